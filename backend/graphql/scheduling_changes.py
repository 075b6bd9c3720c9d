"""Changing schedules for GraphQL: series edits and exceptions, moving, covering, individual sessions.

Called by the mutations in `backend.graphql.scheduling`; each raises `InputRejected`, `MissingRecord`,
`DoubleBookedError` or `LoadCapError`, which the mutation maps to a typed error (and rolls back).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import delete, select

from backend.clients.models import Client
from backend.enrollment.models import SessionAttendee
from backend.errors import FieldProblem, InputRejected
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.relay import parse_id, parse_optional_id
from backend.graphql.scheduling_types import DoubleBooked, LoadCapExceeded, SessionType
from backend.programs.models import Program
from backend.programs.store import add_override, add_series, series_on
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
from backend.scheduling.schedule import entries
from backend.scheduling.store import (
    Assignment,
    Plan,
    Resource,
    book,
    booking_row,
    cancel,
    check_facilitators,
    delete_future,
    facilitator_resources,
    materialize,
    rebook,
)
from backend.staff.models import Room
from backend.staff.store import clinic_caps, staff_by_ids

ActionEnum = strawberry.enum(Action, name="SeriesExceptionAction")


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


def reason_text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 200:
        raise InputRejected([FieldProblem("reason", "invalid", "must be 1 to 200 characters")])
    return text


def instant(value: datetime, tz: ZoneInfo) -> datetime:
    """An input time: with an offset it is that instant; without one, wall-clock time in `tz`."""
    return value.astimezone(UTC) if value.tzinfo else local_to_utc(value, tz)


async def session_result(context: Context, target: GroupSession) -> SessionType:
    return SessionType.of((await entries(context.session, [target]))[0])


async def load_session(context: Context, raw: str) -> tuple[GroupSession, Program | None]:
    session_id = parse_id(raw, "sessionId")
    target = await context.session.get(GroupSession, session_id, with_for_update=True)
    if target is None:
        raise MissingRecord("sessionId")
    program = await context.session.get(Program, target.program_id) if target.program_id else None
    return target, program


class MissingRecord(Exception):
    """An id that names no record in this clinic (the mutation answers NotFound for `field`)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


async def zone_for(context: Context, program: Program | None) -> ZoneInfo:
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
        raise MissingRecord(field)
    return [Resource(room.lane, "room", room.id, field)]


async def move(context: Context, target: GroupSession, program: Program | None, starts: datetime) -> None:
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
    resources = await facilitator_resources(context.session, target.id, "startsAt")
    resources += [
        Resource(r.lane, r.kind, r.id, "startsAt")
        for r in await _room_resource(context, target.room_id, "startsAt")
    ]
    await rebook(context.session, target, resources)


async def update_series(context: Context, input: UpdateSeriesInput) -> UpdateSeriesSuccess:
    session = context.session
    program = await session.get(Program, parse_id(input.program_id, "programId"))
    if program is None:
        raise MissingRecord("programId")
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
        raise MissingRecord("fromDate")
    first = input.first_start.replace(tzinfo=None) if input.first_start else None
    split = split_series(old.first_start, input.from_date, first)
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


async def add_exception(context: Context, input: SeriesExceptionInput) -> SessionType:
    session = context.session
    reason = reason_text(input.reason)
    program = await session.get(Program, parse_id(input.program_id, "programId"))
    if program is None:
        raise MissingRecord("programId")
    tz = ZoneInfo(program.timezone)
    action = Action(input.action)
    if action is Action.MOVE and input.moved_to is None:
        raise InputRejected([FieldProblem("movedTo", "required", "is required to move a session")])
    series = await series_on(session, program.id, input.date)
    if series is None:
        raise MissingRecord("date")
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
    moved_to = instant(input.moved_to, tz) if input.moved_to is not None else None
    add_override(session, series.id, Override(input.date, action, moved_to, reason))
    if action is Action.MOVE and moved_to is not None:
        await move(context, target, program, moved_to)
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
        entry = await session_result(context, target)
        await session.delete(target)
        await session.flush()
        return entry
    return await session_result(context, target)


async def cover(context: Context, input: CoverSessionInput) -> SessionType:
    session = context.session
    reason = reason_text(input.reason)
    target, program = await load_session(context, input.session_id)
    if target.status is not SessionStatus.SCHEDULED:
        raise InputRejected([FieldProblem("sessionId", "not_scheduled", "is cancelled or completed")])
    rows = {r.staff_id: r for r in await session.scalars(
        select(SessionFacilitator).where(SessionFacilitator.session_id == target.id)
    )}  # fmt: skip
    replacing = parse_optional_id(input.replacing_staff_id, "replacingStaffId")
    if replacing is None:
        replacing = next((i for i, r in rows.items() if r.role is FacilitatorRole.LEAD), None)
    if replacing is None or replacing not in rows:
        raise MissingRecord("replacingStaffId")
    substitute = parse_optional_id(input.substitute_staff_id, "substituteStaffId") or (
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
    return await session_result(context, target)


def _row(target: GroupSession, resource: Resource) -> dict[str, object]:
    return booking_row(target.id, resource.lane, target.starts_at, target.ends_at)


async def individual(context: Context, input: IndividualSessionInput) -> SessionType:
    session = context.session
    if not 15 <= input.minutes <= 240:
        raise InputRejected([FieldProblem("minutes", "out_of_range", "must be between 15 and 240")])
    if (input.room_id is not None) == input.telehealth:
        raise InputRejected(
            [FieldProblem("roomId", "room_or_telehealth", "give a room or telehealth, not both")]
        )
    client_id = parse_id(input.client_id, "clientId")
    if await session.get(Client, client_id) is None:
        raise MissingRecord("clientId")
    staff_id = parse_id(input.staff_id, "staffId")
    staff = (await staff_by_ids(session, [staff_id])).get(staff_id)
    if staff is None:
        raise MissingRecord("staffId")
    tz = await zone_for(context, None)
    starts = instant(input.starts_at, tz)
    assignment = Assignment(staff.id, FacilitatorRole.LEAD, "staffId")
    await check_facilitators(session, [assignment], [], [starts], count_load=False)
    room_id = parse_optional_id(input.room_id, "roomId")
    resources = [Resource(staff.lane, "facilitator", staff.id, "staffId")]
    resources += await _room_resource(context, room_id, "roomId")
    occurrence = Occurrence(starts, starts + timedelta(minutes=input.minutes))
    plan = Plan(SessionKind.INDIVIDUAL, None, None, room_id, input.telehealth, [occurrence], [assignment])
    (session_id,) = await materialize(session, plan, resources)
    session.add(
        SessionAttendee(session_id=session_id, client_id=client_id, enrollment_id=None, attendance=None)
    )
    await session.flush()
    context.audit("create", "appointment", str(session_id), client_id)
    target = await session.get_one(GroupSession, session_id)
    return await session_result(context, target)
