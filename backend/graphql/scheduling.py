"""Schedules through GraphQL: series edits and exceptions, single-session changes, coverage,
individual appointments, and a clinician's schedule across all their groups."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry

from backend.errors import FieldProblem, InputRejected
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.programs import day_range
from backend.graphql.relay import parse_id
from backend.graphql.scheduling_changes import (
    CancelSessionInput,
    CoverSessionInput,
    IndividualSessionInput,
    MissingRecord,
    RescheduleSessionInput,
    SeriesExceptionInput,
    UpdateSeriesInput,
    UpdateSeriesResult,
    add_exception,
    cover,
    individual,
    instant,
    load_session,
    move,
    reason_text,
    session_result,
    update_series,
    zone_for,
)
from backend.graphql.scheduling_types import DoubleBooked, LoadCapExceeded, SessionType
from backend.graphql.transactions import Atomic
from backend.scheduling.models import SessionStatus
from backend.scheduling.schedule import entries, staff_sessions
from backend.scheduling.store import DoubleBookedError, LoadCapError, cancel
from backend.staff.store import clinic_caps, staff_for_user

SessionResult = Annotated[
    SessionType | InvalidInput | NotFound | DoubleBooked | LoadCapExceeded, strawberry.union("SessionResult")
]


async def _guard(work: Any) -> Any:
    """Map scheduling failures to typed errors (the Atomic savepoint then rolls everything back)."""
    try:
        return await work
    except MissingRecord as exc:
        return NotFound.of(exc.field)
    except DoubleBookedError as exc:
        return DoubleBooked.of(exc)
    except LoadCapError as exc:
        return LoadCapExceeded.of(exc)


@strawberry.type
class SchedulingQueries:
    @strawberry.field(permission_classes=[allow("schedule", "read_own")])
    async def my_schedule(
        self, info: strawberry.Info[Context, Any], from_date: date, to_date: date
    ) -> list[SessionType]:
        """The signed-in staff member's sessions (groups and individual appointments), clinic zone."""
        principal = info.context.require_principal()
        staff = await staff_for_user(info.context.session, principal.user_id)
        if staff is None:
            return []
        return await _schedule(info.context, staff.id, from_date, to_date)

    @strawberry.field(permission_classes=[allow("schedule", "read")])
    async def staff_schedule(
        self, info: strawberry.Info[Context, Any], staff_id: strawberry.ID, from_date: date, to_date: date
    ) -> list[SessionType]:
        try:
            staff = parse_id(staff_id, "staffId")
        except InputRejected as exc:
            raise BadRequest("staffId", "is not an id") from exc
        assert staff is not None
        return await _schedule(info.context, staff, from_date, to_date)


async def _schedule(
    context: Context, staff_id: uuid.UUID, from_date: date, to_date: date
) -> list[SessionType]:
    tz = ZoneInfo((await clinic_caps(context.session))[0])
    low, high = day_range(from_date, to_date, tz)
    found = await staff_sessions(context.session, staff_id, low, high)
    return [SessionType.of(e) for e in await entries(context.session, found)]


@strawberry.type
class SchedulingMutations:
    @strawberry.mutation(permission_classes=[allow("program", "manage")], extensions=[Atomic()])
    async def update_series(
        self, info: strawberry.Info[Context, Any], input: UpdateSeriesInput
    ) -> UpdateSeriesResult:
        """Change the rule, time or length from a date on: later unattended sessions are regenerated."""
        return await _guard(update_series(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def add_series_exception(
        self, info: strawberry.Info[Context, Any], input: SeriesExceptionInput
    ) -> SessionResult:
        """Skip (holiday), cancel (with reason) or move one occurrence of a program's series."""
        return await _guard(add_exception(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def reschedule_session(
        self, info: strawberry.Info[Context, Any], input: RescheduleSessionInput
    ) -> SessionResult:
        async def work() -> SessionType:
            reason = reason_text(input.reason)
            target, program = await load_session(info.context, input.session_id)
            if target.status is not SessionStatus.SCHEDULED:
                raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
            await move(
                info.context, target, program, instant(input.starts_at, await zone_for(info.context, program))
            )
            target.status_reason = reason
            return await session_result(info.context, target)

        return await _guard(work())  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def cancel_session(
        self, info: strawberry.Info[Context, Any], input: CancelSessionInput
    ) -> SessionResult:
        async def work() -> SessionType:
            reason = reason_text(input.reason)
            target, _ = await load_session(info.context, input.session_id)
            if target.status is not SessionStatus.SCHEDULED:
                raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
            await cancel(info.context.session, target, reason)
            return await session_result(info.context, target)

        return await _guard(work())  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def cover_session(
        self, info: strawberry.Info[Context, Any], input: CoverSessionInput
    ) -> SessionResult:
        """Reassign one session to a substitute who holds the program's credentials and is free."""
        return await _guard(cover(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("appointment", "create")], extensions=[Atomic()])
    async def schedule_individual_session(
        self, info: strawberry.Info[Context, Any], input: IndividualSessionInput
    ) -> SessionResult:
        """An individual appointment: a session with one member, booking the clinician (and room)."""
        return await _guard(individual(info.context, input))  # type: ignore[no-any-return]
