"""GraphQL: 42 CFR Part 2 consents per member, break-the-glass access and its report.

Consents are read and recorded by front desk and clinical roles (consent:read / consent:manage);
break-the-glass is for clinicians and supervisors (break_glass:create) and its events are read by
the compliance officer (break_glass:read). Rules: backend.compliance.part2.consents, .break_glass; what
a consent opens: backend.compliance.part2.access. Every read and write is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from backend.billing.models import Payer
from backend.clients.models import Client
from backend.compliance.part2 import break_glass, consent_store
from backend.compliance.part2.consents import (
    Category,
    ConsentDraft,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
    is_active,
    validate_consent,
)
from backend.compliance.part2.models import Consent
from backend.database import utcnow
from backend.errors import FieldProblem
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound, UserError
from backend.graphql.relay import parse_id
from backend.graphql.scheduling_types import global_id
from backend.graphql.transactions import Atomic
from backend.programs.models import Program
from backend.staff.models import StaffMember
from backend.staff.store import staff_for_user

PurposeEnum = strawberry.enum(Purpose, name="ConsentPurpose")
RecipientKindEnum = strawberry.enum(RecipientKind, name="ConsentRecipientKind")
CategoryEnum = strawberry.enum(Category, name="ConsentCategory")
#: The table each kind of recipient id names, and its relay type (None: plain ids).
RECIPIENT_TABLES: dict[RecipientKind, tuple[type[Program] | type[StaffMember] | type[Payer], str | None]] = {
    RecipientKind.PROGRAM: (Program, "Program"),
    RecipientKind.PERSON: (StaffMember, "StaffMember"),
    RecipientKind.PAYER: (Payer, None),
}


@strawberry.type(name="ConsentRecipient")
class ConsentRecipientType:
    kind: RecipientKindEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(
        description="Program or StaffMember global id, payer id; null for an organisation and for TPO (any "
        "recipient acting for treatment, payment or health care operations)"
    )
    name: str | None = strawberry.field(description="The organisation's name; null for other kinds")

    @classmethod
    def of(cls, r: Recipient) -> ConsentRecipientType:
        relay_type = RECIPIENT_TABLES[r.kind][1] if r.kind in RECIPIENT_TABLES else None
        if r.id is None:
            return cls(kind=r.kind, id=None, name=r.name)
        rid = global_id(relay_type, r.id) if relay_type else strawberry.ID(str(r.id))
        return cls(kind=r.kind, id=rid, name=r.name)


@strawberry.type(name="Part2Consent")
class ConsentType:
    """A member's written consent to disclose 42 CFR Part 2 records (42 CFR 2.31)."""

    id: strawberry.ID
    member_id: strawberry.ID
    recipients: list[ConsentRecipientType]
    purposes: list[PurposeEnum]  # type: ignore[valid-type]
    other_purpose: str | None
    categories: list[CategoryEnum]  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime | None
    end_event: str | None
    end_event_recorded_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    active: bool = strawberry.field(description="Started, not expired, end event not recorded, not revoked")

    @classmethod
    def of(cls, terms: ConsentTerms, row: Consent | None = None) -> ConsentType:
        return cls(
            id=strawberry.ID(str(terms.id)),
            member_id=strawberry.ID(str(terms.client_id)),
            recipients=[ConsentRecipientType.of(r) for r in terms.recipients],
            purposes=sorted(terms.purposes),
            other_purpose=row.other_purpose if row else None,
            categories=sorted(terms.categories),
            starts_at=terms.starts_at,
            ends_at=terms.ends_at,
            end_event=terms.end_event,
            end_event_recorded_at=terms.end_event_recorded_at,
            revoked_at=terms.revoked_at,
            revocation_reason=row.revocation_reason if row else None,
            active=is_active(terms, utcnow()),
        )


@strawberry.input
class ConsentRecipientInput:
    kind: RecipientKindEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(default=None, description="Omit for an organisation and TPO")
    name: str | None = strawberry.field(
        default=None, description="An organisation outside the clinic, by its name (as exports name it)"
    )


@strawberry.input
class RecordConsentInput:
    member_id: strawberry.ID
    recipients: list[ConsentRecipientInput]
    purposes: list[PurposeEnum]  # type: ignore[valid-type]
    categories: list[CategoryEnum] = strawberry.field(description="What may be disclosed")  # type: ignore[valid-type]
    other_purpose: str | None = None
    starts_at: datetime | None = strawberry.field(default=None, description="Now when left out")
    ends_at: datetime | None = None
    end_event: str | None = strawberry.field(
        default=None, description='An end event instead of (or as well as) a date, e.g. "end of treatment"'
    )


@strawberry.type
class ConsentRecorded:
    consent: ConsentType


@strawberry.type
class BreakGlassGranted:
    grant_id: strawberry.ID
    member_id: strawberry.ID
    expires_at: datetime


@strawberry.type
class NoStaffRecord(UserError):
    """Break-the-glass opens records to a staff member; the caller has no staff record in this clinic."""


@strawberry.type(name="BreakGlassEvent")
class BreakGlassEventType:
    id: strawberry.ID
    granted_at: datetime
    expires_at: datetime
    user_id: strawberry.ID
    staff_id: strawberry.ID | None
    staff_name: str | None
    member_id: strawberry.ID
    member_name: str
    reason: str

    @classmethod
    def of(cls, e: break_glass.BreakGlassEvent) -> BreakGlassEventType:
        return cls(
            id=strawberry.ID(str(e.id)),
            granted_at=e.granted_at,
            expires_at=e.expires_at,
            user_id=strawberry.ID(str(e.user_id)),
            staff_id=global_id("StaffMember", e.staff_id),
            staff_name=e.staff_name,
            member_id=strawberry.ID(str(e.client_id)),
            member_name=e.member_name,
            reason=e.reason,
        )


@strawberry.type
class BreakGlassReport:
    events: list[BreakGlassEventType]
    csv: str = strawberry.field(description="The events as CSV (RFC 4180), members by id")


RecordConsentResult = Annotated[
    ConsentRecorded | InvalidInput | NotFound, strawberry.union("RecordConsentResult")
]
ConsentChangeResult = Annotated[
    ConsentRecorded | InvalidInput | NotFound, strawberry.union("ConsentChangeResult")
]
BreakTheGlassResult = Annotated[
    BreakGlassGranted | InvalidInput | NotFound | NoStaffRecord, strawberry.union("BreakTheGlassResult")
]


async def _recipients(
    context: Context, items: list[ConsentRecipientInput]
) -> tuple[list[Recipient], list[FieldProblem]]:
    """Parsed recipients; an id naming nothing of its kind is a problem on that recipient."""
    found: list[Recipient] = []
    problems: list[FieldProblem] = []
    for i, item in enumerate(items):
        kind = RecipientKind(item.kind)
        if kind not in RECIPIENT_TABLES or item.id is None:
            if kind not in RECIPIENT_TABLES and item.id is not None:
                problems.append(
                    FieldProblem(f"recipients[{i}].id", "invalid", f"a {kind.value} recipient has no id")
                )
            found.append(Recipient(kind, None, item.name))  # validate_consent names a missing id or name
            continue
        rid = parse_id(item.id, f"recipients[{i}].id")
        if await context.session.get(RECIPIENT_TABLES[kind][0], rid) is None:
            problems.append(FieldProblem(f"recipients[{i}].id", "not_found", f"does not name a {kind.value}"))
        found.append(Recipient(kind, rid, item.name))
    return found, problems


async def _consent(context: Context, consent_id: strawberry.ID) -> tuple[Consent, ConsentTerms] | None:
    return await consent_store.get_consent(context.session, parse_id(consent_id, "id"))


def _changed(row: Consent, terms: ConsentTerms) -> ConsentRecorded:
    """The consent after a change of its row (revocation, end event), recipients as loaded before."""
    return ConsentRecorded(consent=ConsentType.of(consent_store.terms_of(row, terms.recipients), row))


@strawberry.type
class Part2Queries:
    @strawberry.field(permission_classes=[allow("consent", "read")])
    async def member_consents(
        self, info: strawberry.Info[Context, Any], member_id: strawberry.ID
    ) -> list[ConsentType]:
        """The member's Part 2 consents, newest first, revoked and expired ones included (see `active`)."""
        context = info.context
        mid = parse_id(member_id, "memberId", in_input=False)
        if await context.session.get(Client, mid) is None:
            raise BadRequest("memberId", "does not name a client in this clinic")
        terms = await consent_store.load_consents(context.session, [mid])
        rows = {
            c.id: c for c in await context.session.scalars(select(Consent).where(Consent.client_id == mid))
        }
        context.audit("read", "consent", str(mid), mid)
        return [ConsentType.of(t, rows.get(t.id)) for t in terms]

    @strawberry.field(permission_classes=[allow("break_glass", "read")])
    async def break_glass_events(
        self,
        info: strawberry.Info[Context, Any],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> BreakGlassReport:
        """Break-the-glass grants made in [from, to), oldest first, for the compliance officer."""
        if to <= from_:
            raise BadRequest("to", "must be after from")
        context = info.context
        events = await break_glass.break_glass_events(context.session, from_, to)
        context.audit("read", "break_glass_events", f"{from_.isoformat()}/{to.isoformat()}")
        for e in events:
            context.audit("read", "break_glass", str(e.id), e.client_id)
        return BreakGlassReport(
            events=[BreakGlassEventType.of(e) for e in events], csv=break_glass.events_csv(events)
        )


@strawberry.type
class Part2Mutations:
    @strawberry.mutation(permission_classes=[allow("consent", "manage")], extensions=[Atomic()])
    async def record_consent(
        self, info: strawberry.Info[Context, Any], input: RecordConsentInput
    ) -> RecordConsentResult:
        """Record a member's written Part 2 consent: recipients, purposes, what may be disclosed, until."""
        context = info.context
        mid = parse_id(input.member_id, "memberId")
        if await context.session.get(Client, mid) is None:
            return NotFound.of("memberId")
        recipients, problems = await _recipients(context, input.recipients)
        draft = ConsentDraft(
            client_id=mid,
            recipients=tuple(recipients),
            purposes=frozenset(Purpose(p) for p in input.purposes),
            other_purpose=input.other_purpose,
            categories=frozenset(Category(c) for c in input.categories),
            starts_at=input.starts_at or utcnow(),
            ends_at=input.ends_at,
            end_event=input.end_event,
        )
        problems = validate_consent(draft) + problems
        if problems:
            return InvalidInput.of(problems)
        principal = context.require_principal()
        terms = await consent_store.record_consent(context.session, draft, principal.user_id)
        context.audit("create", "consent", str(terms.id), mid)
        row = await context.session.get(Consent, terms.id)
        return ConsentRecorded(consent=ConsentType.of(terms, row))

    @strawberry.mutation(permission_classes=[allow("consent", "manage")], extensions=[Atomic()])
    async def revoke_consent(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID, reason: str | None = None
    ) -> ConsentChangeResult:
        """Revoke a consent (the member's written revocation): it is never used again. Revoking twice
        keeps the first revocation."""
        context = info.context
        found = await _consent(context, id)
        if found is None:
            return NotFound.of("id")
        row, terms = found
        await consent_store.revoke_consent(context.session, row, context.require_principal().user_id, reason)
        context.audit("update", "consent", str(row.id), row.client_id)
        return _changed(row, terms)

    @strawberry.mutation(permission_classes=[allow("consent", "manage")], extensions=[Atomic()])
    async def record_consent_end_event(
        self, info: strawberry.Info[Context, Any], id: strawberry.ID
    ) -> ConsentChangeResult:
        """Record that the consent's end event happened (e.g. treatment ended): it ends now."""
        context = info.context
        found = await _consent(context, id)
        if found is None:
            return NotFound.of("id")
        row, terms = found
        if row.end_event is None:
            return InvalidInput.of(
                [FieldProblem("id", "no_end_event", "This consent ends on a date, not an event.")]
            )
        await consent_store.record_end_event(context.session, row, context.require_principal().user_id)
        context.audit("update", "consent", str(row.id), row.client_id)
        return _changed(row, terms)

    @strawberry.mutation(permission_classes=[allow("break_glass", "create")], extensions=[Atomic()])
    async def break_the_glass(
        self, info: strawberry.Info[Context, Any], member_id: strawberry.ID, reason: str
    ) -> BreakTheGlassResult:
        """Emergency access to the member's Part 2 content for 4 hours (42 CFR 2.51). A reason is required;
        the grant is recorded, audited and reported to the clinic's compliance officers."""
        context = info.context
        problems = break_glass.reason_problems(reason)
        if problems:
            return InvalidInput.of(problems)
        mid = parse_id(member_id, "memberId")
        if await context.session.get(Client, mid) is None:
            return NotFound.of("memberId")
        principal = context.require_principal()
        staff = await staff_for_user(context.session, principal.user_id)
        if staff is None:
            return NoStaffRecord(field=None, code="no_staff_record", message="You have no staff record here.")
        row = await break_glass.grant(
            context.session, principal.tenant_id, principal.user_id, staff.id, mid, reason, utcnow()
        )
        context.audit("create", "break_glass", str(row.id), mid)
        return BreakGlassGranted(
            grant_id=strawberry.ID(str(row.id)), member_id=strawberry.ID(str(mid)), expires_at=row.expires_at
        )
