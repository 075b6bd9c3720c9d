"""Generating a program's sessions from its series: expand, check facilitators, insert, fill rosters."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.enrollment.roster import fill_roster
from backend.programs.models import Program
from backend.programs.store import overrides_of
from backend.scheduling.models import FacilitatorRole, GroupSession, SessionKind, SessionSeries
from backend.scheduling.recurrence import Action, Override, expand, horizon, local_to_utc, zone
from backend.scheduling.store import Assignment, Plan, Resource, check_facilitators, materialize
from backend.staff.models import Room
from backend.staff.store import staff_by_ids


def program_assignments(program: Program) -> list[Assignment]:
    found = (
        [Assignment(program.lead_facilitator_id, FacilitatorRole.LEAD, "leadFacilitatorId")]
        if (program.lead_facilitator_id)
        else []
    )
    if program.cofacilitator_id is not None:
        found.append(Assignment(program.cofacilitator_id, FacilitatorRole.CO, "cofacilitatorId"))
    return found


async def program_resources(
    session: AsyncSession, program: Program, assignments: list[Assignment]
) -> list[Resource]:
    staff = await staff_by_ids(session, [a.staff_id for a in assignments])
    resources = [
        Resource(staff[a.staff_id].lane, "facilitator", a.staff_id, a.field)
        for a in assignments
        if a.staff_id in staff
    ]
    if program.room_id is not None:
        room = await session.get_one(Room, program.room_id)
        resources.append(Resource(room.lane, "room", room.id, "roomId"))
    return resources


async def taken_days(
    session: AsyncSession, program_id: uuid.UUID, from_day: date, until_day: date, tz: ZoneInfo
) -> set[date]:
    low = local_to_utc(datetime.combine(from_day, time.min), tz) - timedelta(days=7)
    high = local_to_utc(datetime.combine(until_day, time.max), tz) + timedelta(days=7)
    rows = await session.execute(
        select(GroupSession.starts_at, GroupSession.rescheduled_from).where(
            GroupSession.program_id == program_id,
            or_(
                GroupSession.starts_at.between(low, high),
                GroupSession.rescheduled_from.between(low, high),
            ),
        )
    )
    return {(moved_from or starts).astimezone(tz).date() for starts, moved_from in rows}


async def generate(
    session: AsyncSession,
    program: Program,
    series: SessionSeries,
    from_day: date,
    until_day: date | None = None,
) -> list[uuid.UUID]:
    """Create the series' sessions with local dates in [from_day, program end or horizon]."""
    tz, _ = zone(program.timezone)
    assert tz is not None  # validated when the program was created
    last = until_day or horizon(program.starts_on, program.ends_on)
    if series.effective_until is not None:
        last = min(last, series.effective_until)
    overrides = await overrides_of(session, series.id)
    # Days that already have a session of this program (cancelled, attended or individually
    # rescheduled ones kept through a series edit) get no second one.
    for day in await taken_days(session, program.id, from_day, last, tz):
        overrides[day] = Override(day, Action.SKIP)
    occurrences = expand(
        series.rrule,
        series.first_start,
        series.duration_minutes,
        tz,
        from_day,
        last,
        overrides,
    )
    assignments = program_assignments(program)
    starts: list[datetime] = [o.starts_at for o in occurrences if not o.cancelled]
    await check_facilitators(session, assignments, program.required_credentials, starts, count_load=True)
    resources = await program_resources(session, program, assignments)
    plan = Plan(
        SessionKind.GROUP,
        program.id,
        series.id,
        program.room_id,
        program.telehealth,
        occurrences,
        assignments,
    )
    ids = await materialize(session, plan, resources)
    await fill_roster(session, program.id)
    return ids
