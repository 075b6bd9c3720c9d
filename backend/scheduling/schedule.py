"""Reading schedules: a staff member's sessions across all their groups, in a constant number of queries."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.enrollment.models import SessionAttendee
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionFacilitator
from backend.staff.models import Room, StaffMember


@dataclass(frozen=True)
class FacilitatorEntry:
    staff_id: uuid.UUID
    display_name: str
    role: str
    covering_for: uuid.UUID | None


@dataclass(frozen=True)
class ScheduleEntry:
    """One session on a calendar: no attendee names (PHI), only how many are expected."""

    session: GroupSession
    program_name: str | None
    room_name: str | None
    facilitators: list[FacilitatorEntry]
    attendee_count: int


async def staff_sessions(
    session: AsyncSession, staff_id: uuid.UUID, low: datetime, high: datetime
) -> list[GroupSession]:
    stmt = (
        select(GroupSession)
        .join(SessionFacilitator, SessionFacilitator.session_id == GroupSession.id)
        .where(
            SessionFacilitator.staff_id == staff_id, GroupSession.starts_at < high, GroupSession.ends_at > low
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    return list(await session.scalars(stmt))


async def room_sessions(
    session: AsyncSession, room_id: uuid.UUID, low: datetime, high: datetime
) -> list[GroupSession]:
    stmt = (
        select(GroupSession)
        .where(GroupSession.room_id == room_id, GroupSession.starts_at < high, GroupSession.ends_at > low)
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    return list(await session.scalars(stmt))


async def program_sessions(
    session: AsyncSession, program_id: uuid.UUID, low: datetime, high: datetime
) -> list[GroupSession]:
    stmt = (
        select(GroupSession)
        .where(
            GroupSession.program_id == program_id, GroupSession.starts_at < high, GroupSession.ends_at > low
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    return list(await session.scalars(stmt))


async def entries(session: AsyncSession, sessions: Sequence[GroupSession]) -> list[ScheduleEntry]:
    """Details for many sessions in four statements whatever their number or programs."""
    if not sessions:
        return []
    ids = [s.id for s in sessions]
    program_ids = list({s.program_id for s in sessions if s.program_id is not None})
    room_ids = list({s.room_id for s in sessions if s.room_id is not None})
    names: dict[uuid.UUID, str] = {}
    if program_ids:
        names = dict(
            (await session.execute(select(Program.id, Program.name).where(Program.id.in_(program_ids)))).all()
        )
    rooms: dict[uuid.UUID, str] = {}
    if room_ids:
        rooms = dict((await session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids)))).all())
    facilitators: dict[uuid.UUID, list[FacilitatorEntry]] = defaultdict(list)
    rows = await session.execute(
        select(SessionFacilitator, StaffMember.display_name)
        .join(StaffMember, StaffMember.id == SessionFacilitator.staff_id)
        .where(SessionFacilitator.session_id.in_(ids))
        .order_by(SessionFacilitator.role.desc(), StaffMember.display_name)
    )
    for row, display_name in rows.all():
        facilitators[row.session_id].append(
            FacilitatorEntry(row.staff_id, display_name, row.role.value, row.covering_for)
        )
    counts = dict(
        (
            await session.execute(
                select(SessionAttendee.session_id, func.count())
                .where(SessionAttendee.session_id.in_(ids))
                .group_by(SessionAttendee.session_id)
            )
        ).all()
    )
    return [
        ScheduleEntry(
            s,
            names.get(s.program_id) if s.program_id else None,
            rooms.get(s.room_id) if s.room_id else None,
            facilitators[s.id],
            int(counts.get(s.id, 0)),
        )
        for s in sessions
    ]
