"""GraphQL: releasing a member's record to another provider (FHIR), and the accounting of disclosures.

`exportMemberRecord` sends only what the caller may read; Part 2 information only under a consent
covering the recipient, purpose and information, recording a disclosure in the same transaction
(rules: backend.compliance.disclosures.fhir_export). `accountingOfDisclosures` is the member's 42 CFR 2.25
accounting (last 3 years by default), and `myDisclosures` a client's own on mobile; `disclosures` is
the compliance officer's list. Every read is
audited; disclosures are never changed or deleted through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import select

from backend.clients.models import Client
from backend.clinic.store import clinic_settings
from backend.compliance.disclosures.record_export import (
    ExportRecipient,
    export_member_record,
    resolve_recipient,
)
from backend.compliance.disclosures.rules import (
    FULL_NOTICE,
    RECIPIENT_NAME_MAX,
    DisclosedTo,
    Disclosure,
    accounting_window,
    window_bounds,
    window_problems,
)
from backend.compliance.disclosures.store import disclosures_by_id, list_disclosures
from backend.database import utcnow
from backend.errors import FieldProblem
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.disclosures_types import (
    AccountingOfDisclosures,
    AccountingResult,
    DisclosureList,
    DisclosureListResult,
    DisclosureRecipientInput,
    DisclosureType,
    ExportMemberRecordResult,
    MemberRecordExport,
    WithheldContent,
)
from backend.graphql.errors import Forbidden, InvalidInput, NotFound
from backend.graphql.part2 import PurposeEnum
from backend.graphql.record_viewer import viewer_of
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic
from backend.identity.models import User
from backend.tenants.models import Tenant

#: The compliance officer's list answers at most this many rows (and says when there were more).
LIST_LIMIT = 5000


async def _types(context: Context, found: Sequence[Disclosure]) -> list[DisclosureType]:
    """GraphQL disclosures with the names of the users who made them (one query)."""
    users = {d.disclosed_by for d in found if d.disclosed_by is not None}
    names: dict[uuid.UUID, str] = {}
    if users:
        rows = await context.session.execute(select(User.id, User.display_name).where(User.id.in_(users)))
        names = {uid: name for uid, name in rows}
    return [DisclosureType.of(d, names) for d in found]


async def _accounting(
    context: Context, client_id: uuid.UUID, from_date: date | None, to_date: date | None
) -> AccountingOfDisclosures | InvalidInput:
    """The member's disclosures with consent between two dates (clinic time, inclusive; 3 years by
    default), read and audited."""
    zone = await _zone(context)
    today = utcnow().astimezone(zone).date()
    problems = window_problems(from_date, to_date, today)
    if problems:
        return InvalidInput.of(problems)
    first, last = accounting_window(today, from_date, to_date)
    start, end = window_bounds(first, last, zone)
    found = await list_disclosures(context.session, client_id, start, end, limit=None)
    context.audit("read", "disclosure_accounting", str(client_id), client_id)
    return AccountingOfDisclosures(
        member_id=strawberry.ID(str(client_id)),
        from_date=first,
        to_date=last,
        disclosures=await _types(context, found),
    )


async def _zone(context: Context) -> ZoneInfo:
    return ZoneInfo((await clinic_settings(context.session)).timezone)


def _recipient_problems(recipient: DisclosureRecipientInput | None) -> list[FieldProblem]:
    if recipient is None:
        return [FieldProblem("recipient", "required", "is required: whom the record is sent to")]
    if recipient.kind is DisclosedTo.PROVIDER:
        if not (recipient.name or "").strip():
            return [
                FieldProblem("recipient.name", "required", "is required for a provider outside the clinic")
            ]
        if len(recipient.name or "") > RECIPIENT_NAME_MAX:
            return [
                FieldProblem("recipient.name", "too_long", f"is longer than {RECIPIENT_NAME_MAX} characters")
            ]
    elif recipient.id is None:
        return [FieldProblem("recipient.id", "required", f"is required for a {recipient.kind.value}")]
    return []


@strawberry.type
class DisclosureQueries:
    @strawberry.field(permission_classes=[allow("disclosure", "read")])
    async def accounting_of_disclosures(
        self,
        info: strawberry.Info[Context, Any],
        member_id: strawberry.ID,
        from_date: Annotated[date | None, strawberry.argument(name="from")] = None,
        to_date: Annotated[date | None, strawberry.argument(name="to")] = None,
    ) -> AccountingResult:
        """The member's disclosures made with consent, newest first; by default the last 3 years
        (42 CFR 2.25), dates in clinic time and inclusive."""
        context = info.context
        cid = parse_id(member_id, "memberId", in_input=False)
        if await context.session.get(Client, cid) is None:
            return NotFound.of("memberId")
        return await _accounting(context, cid, from_date, to_date)

    @strawberry.field(permission_classes=[allow("disclosure", "read_own")])
    async def my_disclosures(
        self,
        info: strawberry.Info[Context, Any],
        from_date: Annotated[date | None, strawberry.argument(name="from")] = None,
        to_date: Annotated[date | None, strawberry.argument(name="to")] = None,
    ) -> AccountingResult:
        """A client's own accounting of disclosures (mobile): the same list their clinic would give them
        on request, by default the last 3 years."""
        context = info.context
        client_id = context.require_principal().client_id
        if client_id is None:
            raise Forbidden("disclosure", "read_own (no client record for this user)")
        return await _accounting(context, client_id, from_date, to_date)

    @strawberry.field(permission_classes=[allow("disclosure", "read")])
    async def disclosures(
        self,
        info: strawberry.Info[Context, Any],
        from_date: Annotated[date, strawberry.argument(name="from")],
        to_date: Annotated[date, strawberry.argument(name="to")],
        member_id: strawberry.ID | None = None,
    ) -> DisclosureListResult:
        """Every disclosure made between two dates (clinic time, inclusive), newest first; of one member
        when `memberId` is given."""
        context = info.context
        cid = parse_id(member_id, "memberId", in_input=False) if member_id is not None else None
        zone = await _zone(context)
        problems = window_problems(from_date, to_date, utcnow().astimezone(zone).date())
        if problems:
            return InvalidInput.of(problems)
        start, end = window_bounds(from_date, to_date, zone)
        found = await list_disclosures(context.session, cid, start, end, limit=LIST_LIMIT + 1)
        shown = found[:LIST_LIMIT]
        for member in sorted({d.client_id for d in shown}):
            context.audit("read", "disclosure", None, member)
        if not shown:
            context.audit("read", "disclosure", None, cid)
        return DisclosureList(
            from_date=from_date,
            to_date=to_date,
            disclosures=await _types(context, shown),
            truncated=len(found) > LIST_LIMIT,
        )


@strawberry.type
class DisclosureMutations:
    @strawberry.mutation(permission_classes=[allow("disclosure", "create")], extensions=[Atomic()])
    async def export_member_record(
        self,
        info: strawberry.Info[Context, Any],
        member_id: strawberry.ID,
        purpose: PurposeEnum,  # type: ignore[valid-type]
        recipient: DisclosureRecipientInput | None = None,
    ) -> ExportMemberRecordResult:
        """The member's record as a FHIR R4 Bundle for another provider. Part 2 information goes only
        under an active consent covering the recipient, the purpose and the information (recorded as a
        disclosure, with the 42 CFR 2.32 notice in the Bundle); what is left out is listed with why."""
        context = info.context
        session = context.session
        principal = context.require_principal()
        cid = parse_id(member_id, "memberId")
        client = await session.get(Client, cid)
        if client is None:
            return NotFound.of("memberId")
        problems = _recipient_problems(recipient)
        if problems:
            return InvalidInput.of(problems)
        assert recipient is not None
        rid = parse_id(recipient.id, "recipient.id") if recipient.id is not None else None
        to: ExportRecipient | None = await resolve_recipient(session, recipient.kind, rid, recipient.name)
        if to is None:
            return NotFound.of("recipient.id")
        tenant = await session.get(Tenant, principal.tenant_id)
        result = await export_member_record(
            session,
            await viewer_of(context),
            principal.user_id,
            client,
            to,
            purpose,
            tenant.name if tenant else principal.tenant_slug,
            utcnow(),
        )
        context.audit("read", "member_record_export", str(cid), cid)
        for session_id in result.note_sessions:
            context.audit("read", "member_section", str(session_id), cid)
        for disclosure_id in result.disclosure_ids:
            context.audit("create", "disclosure", str(disclosure_id), cid)
        recorded = await disclosures_by_id(session, result.disclosure_ids)
        return MemberRecordExport(
            bundle=result.bundle,
            part2_included=result.plan.includes_part2,
            notice=FULL_NOTICE if result.plan.includes_part2 else None,
            withheld=[WithheldContent.of(w) for w in result.plan.withheld],
            disclosures=await _types(context, recorded),
        )
