"""GraphQL types of disclosures: the recorded disclosure, the accounting, and a record export's result."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from backend.compliance.csv_report import csv_text
from backend.compliance.disclosures.export_plan import Withheld, WithheldReason
from backend.compliance.disclosures.rules import Channel, DisclosedTo, Disclosure, Notice, notice_text
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.part2 import CategoryEnum, PurposeEnum

DisclosedToEnum = strawberry.enum(DisclosedTo, name="DisclosureRecipientKind")
ChannelEnum = strawberry.enum(Channel, name="DisclosureChannel")
NoticeEnum = strawberry.enum(Notice, name="RedisclosureNotice")
WithheldReasonEnum = strawberry.enum(WithheldReason, name="ExportWithheldReason")


_WITHHELD_MESSAGES = {
    WithheldReason.NO_CONSENT: "no consent of the member covers this recipient, purpose and information",
    WithheldReason.CONSENT_REVOKED: "the consent that covered it was revoked by the member",
    WithheldReason.CONSENT_EXPIRED: "the consent that covered it has ended",
    WithheldReason.NOT_PERMITTED: "your role or relationship to the member does not let you read it",
    WithheldReason.NOT_FINAL: "the session record is not signed yet",
}


@strawberry.type
class DisclosureRecipient:
    kind: DisclosedToEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(
        description="The program, staff member or payer; null for a provider"
    )
    name: str


@strawberry.type(name="Disclosure")
class DisclosureType:
    """One release of the member's Part 2 information (42 CFR 2.25: who, to whom, what, when, why)."""

    id: strawberry.ID
    member_id: strawberry.ID
    disclosed_at: datetime
    disclosed_by: strawberry.ID | None = strawberry.field(
        description="The user; null when the system sent it"
    )
    disclosed_by_name: str = strawberry.field(description='The user\'s name, or "system" (claims)')
    recipient: DisclosureRecipient
    purpose: PurposeEnum  # type: ignore[valid-type]
    categories: list[CategoryEnum]  # type: ignore[valid-type]
    description: str = strawberry.field(description="What was disclosed (kinds and counts)")
    consent_id: strawberry.ID | None
    consent_scope: str = strawberry.field(description="The explanation of the consent's scope sent with it")
    channel: ChannelEnum  # type: ignore[valid-type]
    notice: NoticeEnum  # type: ignore[valid-type]
    notice_text: str = strawberry.field(description="The 42 CFR 2.32 statement that accompanied it")

    @classmethod
    def of(cls, d: Disclosure, names: Mapping[uuid.UUID, str]) -> DisclosureType:
        return cls(
            id=strawberry.ID(str(d.id)),
            member_id=strawberry.ID(str(d.client_id)),
            disclosed_at=d.disclosed_at,
            disclosed_by=strawberry.ID(str(d.disclosed_by)) if d.disclosed_by else None,
            disclosed_by_name=_who(d, names),
            recipient=DisclosureRecipient(
                kind=d.recipient_kind,
                id=strawberry.ID(str(d.recipient_id)) if d.recipient_id else None,
                name=d.recipient_name,
            ),
            purpose=d.purpose,
            categories=sorted(d.categories),
            description=d.description,
            consent_id=strawberry.ID(str(d.consent_id)) if d.consent_id else None,
            consent_scope=d.consent_scope,
            channel=d.channel,
            notice=d.notice,
            notice_text=notice_text(d.notice),
        )


def _who(d: Disclosure, names: Mapping[uuid.UUID, str]) -> str:
    if d.disclosed_by is None:
        return "system"
    return names.get(d.disclosed_by, "unknown user")


CSV_COLUMNS = (
    "disclosed_at",
    "member_id",
    "disclosed_by",
    "recipient_kind",
    "recipient_name",
    "recipient_id",
    "purpose",
    "categories",
    "description",
    "consent_id",
    "channel",
    "notice",
)


def disclosures_csv(rows: Sequence[DisclosureType]) -> str:
    return csv_text(
        CSV_COLUMNS,
        (
            (
                d.disclosed_at,
                d.member_id,
                d.disclosed_by_name,
                d.recipient.kind,
                d.recipient.name,
                d.recipient.id,
                d.purpose,
                " ".join(c.value for c in d.categories),  # type: ignore[attr-defined]
                d.description,
                d.consent_id,
                d.channel,
                d.notice,
            )
            for d in rows
        ),
    )


@strawberry.type
class AccountingOfDisclosures:
    """42 CFR 2.25: the member's disclosures made with consent between two dates (clinic time)."""

    member_id: strawberry.ID
    from_date: date = strawberry.field(name="from")
    to_date: date = strawberry.field(name="to")
    disclosures: list[DisclosureType] = strawberry.field(description="Newest first")

    @strawberry.field(description="The same list as CSV (RFC 4180), for the member or a spreadsheet")
    def csv(self, info: strawberry.Info[Context, Any]) -> str:
        info.context.audit("export", "disclosure_accounting", None, uuid.UUID(str(self.member_id)))
        return disclosures_csv(self.disclosures)


@strawberry.type
class DisclosureList:
    """Every disclosure made between two dates (clinic time), newest first, for the compliance officer."""

    from_date: date = strawberry.field(name="from")
    to_date: date = strawberry.field(name="to")
    disclosures: list[DisclosureType]
    truncated: bool = strawberry.field(description="More disclosures fall in the window than were listed")

    @strawberry.field(description="The same list as CSV (RFC 4180)")
    def csv(self, info: strawberry.Info[Context, Any]) -> str:
        for member in sorted({d.member_id for d in self.disclosures}):
            info.context.audit("export", "disclosure", None, uuid.UUID(str(member)))
        return disclosures_csv(self.disclosures)


@strawberry.type
class WithheldContent:
    """Information left out of an export, and why (never silently absent)."""

    category: CategoryEnum  # type: ignore[valid-type]
    part2: bool = strawberry.field(
        description="42 CFR Part 2 information (SUD program sessions, SUD diagnoses)"
    )
    count: int
    reason: WithheldReasonEnum  # type: ignore[valid-type]
    consent_id: strawberry.ID | None = strawberry.field(description="The revoked or ended consent, if any")
    message: str

    @classmethod
    def of(cls, w: Withheld) -> WithheldContent:
        return cls(
            category=w.category,
            part2=w.part2,
            count=w.count,
            reason=w.reason,
            consent_id=strawberry.ID(str(w.consent_id)) if w.consent_id else None,
            message=_WITHHELD_MESSAGES[w.reason],
        )


@strawberry.type
class MemberRecordExport:
    bundle: str = strawberry.field(description="The FHIR R4 document Bundle (JSON) to send")
    part2_included: bool = strawberry.field(description="The Bundle carries Part 2 information")
    notice: str | None = strawberry.field(description="The 42 CFR 2.32 notice the Bundle carries, if any")
    withheld: list[WithheldContent] = strawberry.field(description="What was left out, and why")
    disclosures: list[DisclosureType] = strawberry.field(description="The disclosures recorded for it")


@strawberry.input
class DisclosureRecipientInput:
    kind: DisclosedToEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(
        default=None, description="For a program, a staff member (person) or a payer of this clinic"
    )
    name: str | None = strawberry.field(default=None, description="For a provider outside Ensemble")


ExportMemberRecordResult = Annotated[
    MemberRecordExport | InvalidInput | NotFound, strawberry.union("ExportMemberRecordResult")
]
AccountingResult = Annotated[
    AccountingOfDisclosures | InvalidInput | NotFound, strawberry.union("AccountingOfDisclosuresResult")
]
DisclosureListResult = Annotated[DisclosureList | InvalidInput, strawberry.union("DisclosureListResult")]
