"""The waitlist through GraphQL: referrals, the explained ranking, offers and separations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from backend.clients.models import Client
from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.relay import Connection, Keyset, keyset_page, parse_id
from backend.graphql.transactions import Atomic
from backend.graphql.waitlist_types import (
    AvailabilityWindowInput,
    UrgencyType,
    WaitlistDetailsInput,
    WaitlistEntryNode,
    WaitlistRanking,
    WaitlistStatusType,
    ranking_type,
)
from backend.programs.models import Program
from backend.waitlist.models import Separation, WaitlistEntry
from backend.waitlist.offers import SLOT_OPENED, accept_offer, decline_offer
from backend.waitlist.rules import (
    AvailabilityWindow,
    Urgency,
    WaitlistDetails,
    WaitlistStatus,
    normalized,
    validate_details,
)
from backend.waitlist.snapshot import load_ranking
from backend.waitlist.store import OPEN_STATUSES, add_entry, details_columns
from backend.workers.outbox import add_message

ENTRY_ORDER = Keyset((WaitlistEntry.added_on, WaitlistEntry.id))
MAX_RANKING = 500


@strawberry.input
class AddToWaitlistInput:
    program_id: strawberry.ID
    client_id: strawberry.ID
    details: WaitlistDetailsInput | None = None


@strawberry.input
class UpdateWaitlistEntryInput:
    """Fields left out keep their value."""

    entry_id: strawberry.ID
    urgency: UrgencyType | None = None  # type: ignore[valid-type]
    diagnoses: list[str] | None = None
    availability: list[AvailabilityWindowInput] | None = None
    referrer_name: str | None = None
    referrer_contact: str | None = None
    high_acuity: bool | None = None


@strawberry.input
class AddSeparationInput:
    client_a: strawberry.ID
    client_b: strawberry.ID
    reason: str | None = None


@strawberry.type
class WaitlistEntryResult:
    entry: WaitlistEntryNode


@strawberry.type
class SeparationAdded:
    client_a: strawberry.ID
    client_b: strawberry.ID


EntryResult = Annotated[
    WaitlistEntryResult | InvalidInput | NotFound, strawberry.union("WaitlistEntryChange")
]
SeparationResult = Annotated[
    SeparationAdded | InvalidInput | NotFound, strawberry.union("AddSeparationResult")
]


async def _program(context: Context, raw: str, field: str, *, in_input: bool = True) -> Program | None:
    return await context.session.get(Program, parse_id(raw, field, in_input=in_input))


async def _entry(context: Context, raw: str) -> WaitlistEntry | None:
    stmt = select(WaitlistEntry).where(WaitlistEntry.id == parse_id(raw, "entryId")).with_for_update()
    return (await context.session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


def _changed(context: Context, entry: WaitlistEntry, action: str = "update") -> WaitlistEntryResult:
    context.audit(action, "waitlist_entry", str(entry.id), entry.client_id)
    return WaitlistEntryResult(entry=WaitlistEntryNode.of(entry))


@strawberry.type
class WaitlistQueries:
    @strawberry.field(permission_classes=[allow("waitlist", "read")])
    async def waitlist(
        self,
        info: strawberry.Info[Context, Any],
        program_id: strawberry.ID,
        status: list[WaitlistStatusType] | None = None,  # type: ignore[valid-type]
        first: int = 20,
        after: str | None = None,
    ) -> Connection[WaitlistEntryNode]:
        """The program's entries, longest waiting first (waiting and offered unless `status` says)."""
        stmt = select(WaitlistEntry).where(
            WaitlistEntry.program_id == parse_id(program_id, "programId", in_input=False),
            WaitlistEntry.status.in_(status or OPEN_STATUSES),
        )
        page, connection = await keyset_page(
            info.context.session, stmt, ENTRY_ORDER, first, after, WaitlistEntryNode.of
        )
        for entry in page:
            info.context.audit("read", "waitlist_entry", str(entry.id), entry.client_id)
        return connection

    @strawberry.field(permission_classes=[allow("waitlist", "read")])
    async def waitlist_ranking(
        self, info: strawberry.Info[Context, Any], program_id: strawberry.ID, first: int = 50
    ) -> WaitlistRanking:
        """WAITING candidates in offer order, each score explained, ineligible ones with the reason."""
        if not 1 <= first <= MAX_RANKING:
            raise BadRequest("first", f"must be between 1 and {MAX_RANKING}")
        session = info.context.session
        program = await _program(info.context, program_id, "programId", in_input=False)
        if program is None:
            raise BadRequest("programId", "does not name a program in this clinic")
        now = utcnow()
        ranking = await session.run_sync(lambda sync: load_ranking(sync, program, now, limit=first))
        shown = ranking.ranked
        ids = [r.candidate.entry_id for r in shown]
        entries = {
            e.id: e for e in await session.scalars(select(WaitlistEntry).where(WaitlistEntry.id.in_(ids)))
        }
        for entry in entries.values():
            info.context.audit("read", "waitlist_entry", str(entry.id), entry.client_id)
        return ranking_type(ranking, shown, entries)


@strawberry.type
class WaitlistMutations:
    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def add_to_waitlist(
        self, info: strawberry.Info[Context, Any], input: AddToWaitlistInput
    ) -> EntryResult:
        """A direct referral: put the client on the program's waitlist without trying to enroll."""
        session = info.context.session
        if await _program(info.context, input.program_id, "programId") is None:
            return NotFound.of("programId")
        client_id = parse_id(input.client_id, "clientId")
        if await session.get(Client, client_id) is None:
            return NotFound.of("clientId")
        details = input.details.to_details() if input.details else None
        entry = await add_entry(
            session,
            program_id=parse_id(input.program_id, "programId"),
            client_id=client_id,
            details=details,
            field_prefix="details",
        )
        return _changed(info.context, entry, "create")

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def update_waitlist_entry(
        self, info: strawberry.Info[Context, Any], input: UpdateWaitlistEntryInput
    ) -> EntryResult:
        entry = await _entry(info.context, input.entry_id)
        if entry is None:
            return NotFound.of("entryId")
        if entry.status not in OPEN_STATUSES:
            raise InputRejected([FieldProblem("entryId", "closed", f"the entry is {entry.status.value}")])
        current = WaitlistDetails(
            urgency=entry.urgency,
            diagnoses=tuple(entry.diagnoses or ()),
            availability=tuple(AvailabilityWindow.from_json(w) for w in entry.availability or ()),
            referrer_name=entry.referrer_name,
            referrer_contact=entry.referrer_contact,
            screening=dict(entry.screening or {}),
            contraindications=tuple(entry.contraindications or ()),
            high_acuity=entry.high_acuity,
        )
        changes: dict[str, Any] = {}
        if input.urgency is not None:
            changes["urgency"] = Urgency(input.urgency)
        if input.diagnoses is not None:
            changes["diagnoses"] = tuple(input.diagnoses)
        if input.availability is not None:
            changes["availability"] = tuple(w.to_window() for w in input.availability)
        for name in ("referrer_name", "referrer_contact", "high_acuity"):
            if getattr(input, name) is not None:
                changes[name] = getattr(input, name)
        details = replace(current, **changes)
        problems = validate_details(details, prefix="")
        if problems:
            return InvalidInput.of(problems)
        for column, value in details_columns(normalized(details)).items():
            setattr(entry, column, value)
        await info.context.session.flush()
        return _changed(info.context, entry)

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def withdraw_from_waitlist(
        self, info: strawberry.Info[Context, Any], entry_id: strawberry.ID
    ) -> EntryResult:
        """The client no longer waits; withdrawing an outstanding offer frees its place for the next."""
        entry = await _entry(info.context, entry_id)
        if entry is None:
            return NotFound.of("entryId")
        if entry.status not in OPEN_STATUSES:
            raise InputRejected([FieldProblem("entryId", "closed", f"the entry is {entry.status.value}")])
        if entry.status == WaitlistStatus.OFFERED:
            add_message(info.context.session, SLOT_OPENED, {"program_id": entry.program_id})
        entry.status = WaitlistStatus.WITHDRAWN
        await info.context.session.flush()
        return _changed(info.context, entry)

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def accept_waitlist_offer(
        self, info: strawberry.Info[Context, Any], entry_id: strawberry.ID, starts_on: date
    ) -> EntryResult:
        """Enroll the client in the offered place (the offer reserved it); the entry becomes PLACED."""
        principal = info.context.require_principal()
        entry = await accept_offer(
            info.context.session, parse_id(entry_id, "entryId"), starts_on, principal.user_id
        )
        return _changed(info.context, entry)

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def decline_waitlist_offer(
        self, info: strawberry.Info[Context, Any], entry_id: strawberry.ID
    ) -> EntryResult:
        """The client declines; the place is offered to the next candidate by the worker."""
        entry = await decline_offer(info.context.session, parse_id(entry_id, "entryId"))
        return _changed(info.context, entry)

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def offer_open_place(self, info: strawberry.Info[Context, Any], program_id: strawberry.ID) -> bool:
        """Ask the worker to offer any open place now (e.g. after an offer lapsed unanswered)."""
        program = await _program(info.context, program_id, "programId", in_input=False)
        if program is None:
            raise BadRequest("programId", "does not name a program in this clinic")
        add_message(info.context.session, SLOT_OPENED, {"program_id": program.id})
        return True

    @strawberry.mutation(permission_classes=[allow("waitlist", "manage")], extensions=[Atomic()])
    async def add_separation(
        self, info: strawberry.Info[Context, Any], input: AddSeparationInput
    ) -> SeparationResult:
        """Record that two clients must not be placed in the same group (idempotent)."""
        session = info.context.session
        a, b = parse_id(input.client_a, "clientA"), parse_id(input.client_b, "clientB")
        if a == b:
            return InvalidInput.of([FieldProblem("clientB", "same_client", "must differ from clientA")])
        if input.reason is not None and len(input.reason) > 200:
            return InvalidInput.of([FieldProblem("reason", "too_long", "must be at most 200 characters")])
        for field, client_id in (("clientA", a), ("clientB", b)):
            if await session.get(Client, client_id) is None:
                return NotFound.of(field)
        first, second = sorted((a, b), key=str)
        await session.execute(
            insert(Separation)
            .values(client_a=first, client_b=second, reason=input.reason)
            .on_conflict_do_nothing(index_elements=[Separation.client_a, Separation.client_b])
        )
        for client_id in (a, b):
            info.context.audit("create", "client_separation", None, client_id)
        return SeparationAdded(client_a=strawberry.ID(str(a)), client_b=strawberry.ID(str(b)))
