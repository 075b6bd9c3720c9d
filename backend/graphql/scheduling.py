"""Schedules through GraphQL: series edits and exceptions, single-session changes, coverage,
individual appointments, and a clinician's schedule across all their groups."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import delete, select

from backend.clients.models import Client
from backend.enrollment.models import SessionAttendee
from backend.errors import FieldProblem, InputRejected
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.programs import day_range
from backend.graphql.scheduling_types import DoubleBooked, LoadCapExceeded, SessionType
from backend.graphql.staff import parse_id
from backend.graphql.transactions import Atomic
from backend.programs.models import Program
from backend.programs.store import add_override, add_series, from_wall_clock, series_on
from backend.scheduling.generate import generate
from backend.scheduling.models import (
    Booking,
    FacilitatorRole,
    GroupSession,
    SeriesException,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.scheduling.recurrence import (
    Action,
    Occurrence,
    Override,
    local_to_utc,
    split_series,
    validate_rule,
)
from backend.scheduling.schedule import entries, staff_sessions
from backend.scheduling.store import (
    Assignment,
    DoubleBookedError,
    LoadCapError,
    Plan,
    Resource,
    book,
    booking_row,
    cancel,
    check_facilitators,
    delete_future,
    materialize,
    rebook,
    session_resources,
)
from backend.staff.models import Room, StaffMember
from backend.staff.store import clinic_caps, staff_by_ids, staff_for_user

ActionEnum = strawberry.enum(Action, name="SeriesExceptionAction")

SessionResult = Annotated[
    SessionType | InvalidInput | NotFound | DoubleBooked | LoadCapExceeded, strawberry.union("SessionResult")
]


@strawberry.input
class UpdateSeriesInput:
    program_id: strawberry.ID
    from_date: date
    rrule: str | None = None
    first_start: datetime | None = None  # local wall-clock time (no offset)
    duration_minutes: int | None = None


@strawberry.type
class UpdateSeriesSuccess:
    sessions_removed: int
    sessions_created: int


UpdateSeriesResult = Annotated[
    UpdateSeriesSuccess | InvalidInput | NotFound | DoubleBooked | LoadCapExceeded,
    strawberry.union("UpdateSeriesResult"),
]


@strawberry.input
class SeriesExceptionInput:
    program_id: strawberry.ID
    date: date
    action: ActionEnum  # type: ignore[valid-type]
    reason: str
    moved_to: datetime | None = None  # local wall-clock time in the program's zone when no offset


@strawberry.input
class RescheduleSessionInput:
    session_id: strawberry.ID
    starts_at: datetime
    reason: str


@strawberry.input
class CancelSessionInput:
    session_id: strawberry.ID
    reason: str


@strawberry.input
class CoverSessionInput:
    session_id: strawberry.ID
    reason: str
    substitute_staff_id: strawberry.ID | None = None  # the program's named substitute when left out
    replacing_staff_id: strawberry.ID | None = None  # the lead when left out


@strawberry.input
class IndividualSessionInput:
    client_id: strawberry.ID
    staff_id: strawberry.ID
    starts_at: datetime
    minutes: int
    room_id: strawberry.ID | None = None
    telehealth: bool = False


def _reason(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 200:
        raise InputRejected([FieldProblem("reason", "invalid", "must be 1 to 200 characters")])
    return text


def _instant(value: datetime, tz: ZoneInfo) -> datetime:
    """An input time: with an offset it is that instant; without one, wall-clock time in `tz`."""
    return value.astimezone(UTC) if value.tzinfo else local_to_utc(value, tz)


async def _session_result(context: Context, target: GroupSession) -> SessionType:
    return SessionType.of((await entries(context.session, [target]))[0])


async def _load_session(context: Context, raw: str) -> tuple[GroupSession, Program | None]:
    session_id = parse_id(raw, "sessionId")
    target = await context.session.get(GroupSession, session_id, with_for_update=True)
    if target is None:
        raise _NotFound("sessionId")
    program = await context.session.get(Program, target.program_id) if target.program_id else None
    return target, program


class _NotFound(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


async def _zone(context: Context, program: Program | None) -> ZoneInfo:
    return ZoneInfo(program.timezone if program else (await clinic_caps(context.session))[0])


async def _assignments(context: Context, session_id: uuid.UUID) -> list[Assignment]:
    rows = await context.session.scalars(
        select(SessionFacilitator).where(SessionFacilitator.session_id == session_id)
    )
    return [Assignment(r.staff_id, r.role, "startsAt", r.covering_for) for r in rows]


async def _room_resource(context: Context, room_id: uuid.UUID | None, field: str) -> list[Resource]:
    if room_id is None:
        return []
    room = await context.session.get(Room, room_id)
    if room is None:
        raise _NotFound(field)
    return [Resource(room.lane, "room", room.id, field)]


async def _move(context: Context, target: GroupSession, program: Program | None, starts: datetime) -> None:
    """Move one session, keeping its length: credentials and caps at the new time, then rebook."""
    assignments = await _assignments(context, target.id)
    required = program.required_credentials if program else []
    await check_facilitators(
        context.session,
        assignments,
        required,
        [starts],
        target.kind is SessionKind.GROUP,
        replacing=[target.id],
    )
    length = target.ends_at - target.starts_at
    if target.rescheduled_from is None:
        target.rescheduled_from = target.starts_at
    target.starts_at, target.ends_at = starts, starts + length
    await context.session.flush()
    resources = await session_resources(context.session, target.id, None, None)
    resources = [Resource(r.lane, r.kind, r.id, "startsAt") for r in resources]
    resources += [
        Resource(r.lane, r.kind, r.id, "startsAt")
        for r in await _room_resource(context, target.room_id, "startsAt")
    ]
    await rebook(context.session, target, resources)


async def _guard(work: Any) -> Any:
    """Map scheduling failures to typed errors (the Atomic savepoint then rolls everything back)."""
    try:
        return await work
    except _NotFound as exc:
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
        return await _guard(_update_series(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def add_series_exception(
        self, info: strawberry.Info[Context, Any], input: SeriesExceptionInput
    ) -> SessionResult:
        """Skip (holiday), cancel (with reason) or move one occurrence of a program's series."""
        return await _guard(_add_exception(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def reschedule_session(
        self, info: strawberry.Info[Context, Any], input: RescheduleSessionInput
    ) -> SessionResult:
        async def work() -> SessionType:
            reason = _reason(input.reason)
            target, program = await _load_session(info.context, input.session_id)
            if target.status is not SessionStatus.SCHEDULED:
                raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
            await _move(
                info.context, target, program, _instant(input.starts_at, await _zone(info.context, program))
            )
            target.status_reason = reason
            return await _session_result(info.context, target)

        return await _guard(work())  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def cancel_session(
        self, info: strawberry.Info[Context, Any], input: CancelSessionInput
    ) -> SessionResult:
        async def work() -> SessionType:
            reason = _reason(input.reason)
            target, _ = await _load_session(info.context, input.session_id)
            if target.status is not SessionStatus.SCHEDULED:
                raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
            await cancel(info.context.session, target, reason)
            return await _session_result(info.context, target)

        return await _guard(work())  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("session", "manage")], extensions=[Atomic()])
    async def cover_session(
        self, info: strawberry.Info[Context, Any], input: CoverSessionInput
    ) -> SessionResult:
        """Reassign one session to a substitute who holds the program's credentials and is free."""
        return await _guard(_cover(info.context, input))  # type: ignore[no-any-return]

    @strawberry.mutation(permission_classes=[allow("appointment", "create")], extensions=[Atomic()])
    async def schedule_individual_session(
        self, info: strawberry.Info[Context, Any], input: IndividualSessionInput
    ) -> SessionResult:
        """An individual appointment: a session with one member, booking the clinician (and room)."""
        return await _guard(_individual(info.context, input))  # type: ignore[no-any-return]


async def _update_series(context: Context, input: UpdateSeriesInput) -> UpdateSeriesSuccess:
    session = context.session
    program = await session.get(Program, parse_id(input.program_id, "programId"))
    if program is None:
        raise _NotFound("programId")
    tz = ZoneInfo(program.timezone)
    problems = validate_rule(input.rrule) if input.rrule is not None else []
    if input.duration_minutes is not None and not 15 <= input.duration_minutes <= 600:
        problems.append(FieldProblem("durationMinutes", "out_of_range", "must be between 15 and 600"))
    if input.from_date < datetime.now(tz).date():
        problems.append(
            FieldProblem("fromDate", "in_past", "must be today or later: past sessions keep their rule")
        )
    if input.first_start is not None and input.first_start.replace(tzinfo=None).date() < input.from_date:
        problems.append(FieldProblem("firstStart", "before_from_date", "must be on or after fromDate"))
    if problems:
        raise InputRejected(problems)
    old = await series_on(session, program.id, input.from_date)
    if old is None:
        raise _NotFound("fromDate")
    first = input.first_start.replace(tzinfo=None) if input.first_start else None
    split = split_series(from_wall_clock(old.first_start), input.from_date, first)
    removed = await delete_future(
        session, old.id, local_to_utc(datetime.combine(input.from_date, time.min), tz)
    )
    old.effective_until = split.old_effective_until
    new = add_series(
        session,
        program.id,
        input.rrule or old.rrule,
        split.new_first_start,
        input.duration_minutes or old.duration_minutes,
    )
    await session.flush()
    moved = await session.scalars(
        select(SeriesException).where(
            SeriesException.series_id == old.id, SeriesException.occurrence_date >= input.from_date
        )
    )
    for row in moved:
        row.series_id = new.id
    await session.flush()
    created = await generate(session, program, new, input.from_date)
    return UpdateSeriesSuccess(sessions_removed=removed, sessions_created=len(created))


async def _add_exception(context: Context, input: SeriesExceptionInput) -> SessionType:
    session = context.session
    reason = _reason(input.reason)
    program = await session.get(Program, parse_id(input.program_id, "programId"))
    if program is None:
        raise _NotFound("programId")
    tz = ZoneInfo(program.timezone)
    action = Action(input.action)
    if action is Action.MOVE and input.moved_to is None:
        raise InputRejected([FieldProblem("movedTo", "required", "is required to move a session")])
    series = await series_on(session, program.id, input.date)
    if series is None:
        raise _NotFound("date")
    day_start = local_to_utc(datetime.combine(input.date, time.min), tz)
    target = await session.scalar(
        select(GroupSession)
        .where(
            GroupSession.series_id == series.id,
            GroupSession.starts_at >= day_start,
            GroupSession.starts_at
            < local_to_utc(datetime.combine(input.date + timedelta(days=1), time.min), tz),
            GroupSession.status == SessionStatus.SCHEDULED,
        )
        .with_for_update()
    )
    if target is None:
        raise InputRejected([FieldProblem("date", "no_session", "has no scheduled session of this program")])
    moved_to = _instant(input.moved_to, tz) if input.moved_to is not None else None
    add_override(session, series.id, Override(input.date, action, moved_to, reason))
    if action is Action.MOVE and moved_to is not None:
        await _move(context, target, program, moved_to)
        target.status_reason = reason
    elif action is Action.CANCEL:
        await cancel(session, target, reason)
    else:
        attended = await session.scalar(
            select(SessionAttendee.session_id).where(
                SessionAttendee.session_id == target.id, SessionAttendee.attendance.is_not(None)
            )
        )
        if attended is not None:
            raise InputRejected(
                [FieldProblem("date", "attended", "has attendance recorded; cancel it instead")]
            )
        await cancel(session, target, reason)
        entry = await _session_result(context, target)
        await session.delete(target)
        await session.flush()
        return entry
    return await _session_result(context, target)


async def _cover(context: Context, input: CoverSessionInput) -> SessionType:
    session = context.session
    reason = _reason(input.reason)
    target, program = await _load_session(context, input.session_id)
    if target.status is not SessionStatus.SCHEDULED:
        raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
    rows = {r.staff_id: r for r in await session.scalars(
        select(SessionFacilitator).where(SessionFacilitator.session_id == target.id)
    )}  # fmt: skip
    replacing = parse_id(input.replacing_staff_id, "replacingStaffId")
    if replacing is None:
        replacing = next((i for i, r in rows.items() if r.role is FacilitatorRole.LEAD), None)
    if replacing is None or replacing not in rows:
        raise _NotFound("replacingStaffId")
    substitute = parse_id(input.substitute_staff_id, "substituteStaffId") or (
        program.substitute_id if program else None
    )
    if substitute is None:
        raise InputRejected(
            [FieldProblem("substituteStaffId", "required", "the program names no substitute")]
        )
    if substitute in rows:
        raise InputRejected(
            [FieldProblem("substituteStaffId", "already_assigned", "already facilitates this session")]
        )
    assignment = Assignment(substitute, rows[replacing].role, "substituteStaffId", replacing)
    staff = await check_facilitators(
        session,
        [assignment],
        program.required_credentials if program else [],
        [target.starts_at],
        target.kind is SessionKind.GROUP,
    )
    old = rows[replacing]
    old_lane = (await staff_by_ids(session, [replacing]))[replacing].lane
    await session.delete(old)
    await session.flush()
    session.add(
        SessionFacilitator(
            session_id=target.id, staff_id=substitute, role=old.role,
            covering_for=old.covering_for or replacing, coverage_reason=reason,
        )
    )  # fmt: skip
    await session.execute(delete(Booking).where(Booking.session_id == target.id, Booking.lane == old_lane))
    await session.flush()
    resource = Resource(staff[substitute].lane, "facilitator", substitute, "substituteStaffId")
    await book(session, [_row(target, resource)], [resource])
    return await _session_result(context, target)


def _row(target: GroupSession, resource: Resource) -> dict[str, object]:
    return booking_row(target.id, resource.lane, target.starts_at, target.ends_at)


async def _individual(context: Context, input: IndividualSessionInput) -> SessionType:
    session = context.session
    if not 15 <= input.minutes <= 240:
        raise InputRejected([FieldProblem("minutes", "out_of_range", "must be between 15 and 240")])
    if (input.room_id is not None) == input.telehealth:
        raise InputRejected(
            [FieldProblem("roomId", "room_or_telehealth", "give a room or telehealth, not both")]
        )
    client_id = parse_id(input.client_id, "clientId")
    if client_id is None or await session.get(Client, client_id) is None:
        raise _NotFound("clientId")
    staff_id = parse_id(input.staff_id, "staffId")
    staff: StaffMember | None = (await staff_by_ids(session, [staff_id] if staff_id else [])).get(staff_id)  # type: ignore[arg-type]
    if staff is None:
        raise _NotFound("staffId")
    tz = await _zone(context, None)
    starts = _instant(input.starts_at, tz)
    assignment = Assignment(staff.id, FacilitatorRole.LEAD, "staffId")
    await check_facilitators(session, [assignment], [], [starts], count_load=False)
    room_id = parse_id(input.room_id, "roomId")
    resources = [Resource(staff.lane, "facilitator", staff.id, "staffId")]
    resources += await _room_resource(context, room_id, "roomId")
    occurrence = Occurrence(starts, starts + timedelta(minutes=input.minutes))
    plan = Plan(
        SessionKind.INDIVIDUAL, None, None, room_id, None, input.telehealth, [occurrence], [assignment]
    )
    (session_id,) = await materialize(session, plan, resources)
    session.add(
        SessionAttendee(session_id=session_id, client_id=client_id, enrollment_id=None, attendance=None)
    )
    await session.flush()
    context.audit("create", "appointment", str(session_id), client_id)
    target = await session.get_one(GroupSession, session_id)
    return await _session_result(context, target)
