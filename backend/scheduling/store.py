"""Materializing sessions, booking their facilitators and rooms, and changing them.

Sessions, facilitator rows and bookings are written with set-based inserts (a year of weekly
sessions is three statements). The `no_double_booking` exclusion constraint is the guard against
double booking; its violation is caught inside a savepoint and reported as `DoubleBookedError`
naming the resource, so the rest of the request's transaction survives.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from psycopg.errors import ExclusionViolation
from sqlalchemy import Table, delete, exists, insert, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.enrollment.models import SessionAttendee
from backend.errors import FieldProblem, InputRejected
from backend.scheduling.booking import conflicting_lanes, span
from backend.scheduling.models import (
    Booking,
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.scheduling.recurrence import Occurrence
from backend.staff.models import StaffMember
from backend.staff.rules import cap_exceeded, missing_credentials
from backend.staff.store import caps_for, clinic_caps, credentials_of, lock_staff


@dataclass(frozen=True)
class Resource:
    """A bookable resource and the input field that chose it (for the error that names it)."""

    lane: int
    kind: str  # "facilitator" or "room"
    id: uuid.UUID
    field: str


class DoubleBookedError(Exception):
    def __init__(self, resource: Resource) -> None:
        super().__init__(f"{resource.kind} double-booked")
        self.resource = resource


class LoadCapError(Exception):
    def __init__(self, field: str, staff_id: uuid.UUID, period: str, on: str, cap: int) -> None:
        super().__init__(f"load cap per {period} exceeded")
        self.field, self.staff_id, self.period, self.on, self.cap = field, staff_id, period, on, cap


@dataclass(frozen=True)
class Assignment:
    staff_id: uuid.UUID
    role: FacilitatorRole
    field: str
    covering_for: uuid.UUID | None = None


@dataclass
class Plan:
    """Sessions to create for one program (or one individual appointment)."""

    kind: SessionKind
    program_id: uuid.UUID | None
    series_id: uuid.UUID | None
    room_id: uuid.UUID | None
    telehealth: bool
    occurrences: list[Occurrence]
    assignments: list[Assignment] = field(default_factory=list)


async def check_facilitators(
    session: AsyncSession,
    assignments: Sequence[Assignment],
    required: Sequence[str],
    starts: Sequence[datetime],
    count_load: bool,
    replacing: Sequence[uuid.UUID] = (),
) -> dict[uuid.UUID, StaffMember]:
    """Credentials through the last session, then load caps (staff rows locked first); raises on failure."""
    ids = sorted({a.staff_id for a in assignments})
    staff = await lock_staff(session, ids)
    for a in assignments:
        if a.staff_id not in staff or not staff[a.staff_id].active:
            raise InputRejected([FieldProblem(a.field, "not_found", "does not name an active staff member")])
    if not starts:
        return staff
    held = await credentials_of(session, ids)
    tz_name, day_cap, week_cap = await clinic_caps(session)
    tz = ZoneInfo(tz_name)
    last = max(starts).astimezone(tz).date()
    for a in assignments:
        missing = missing_credentials(required, held.get(a.staff_id, {}), last)
        if missing:
            raise InputRejected(
                [
                    FieldProblem(
                        a.field, "missing_credential", f"lacks a valid {', '.join(missing)} credential"
                    )
                ]
            )
    if not count_load:
        return staff
    existing = await _group_days(session, ids, min(starts), max(starts), replacing, tz)
    new_days = [s.astimezone(tz).date() for s in starts]
    for a in assignments:
        over = cap_exceeded(existing[a.staff_id] + new_days, caps_for(staff[a.staff_id], day_cap, week_cap))
        if over is not None:
            raise LoadCapError(a.field, a.staff_id, over.period, over.on.isoformat(), over.cap)
    return staff


async def _group_days(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    low: datetime,
    high: datetime,
    replacing: Sequence[uuid.UUID],
    tz: ZoneInfo,
) -> dict[uuid.UUID, list[date]]:
    stmt = (
        select(SessionFacilitator.staff_id, GroupSession.starts_at)
        .join(GroupSession, GroupSession.id == SessionFacilitator.session_id)
        .where(
            SessionFacilitator.staff_id.in_(ids),
            GroupSession.kind == SessionKind.GROUP,
            GroupSession.status != SessionStatus.CANCELLED,
            GroupSession.starts_at >= low - timedelta(days=8),
            GroupSession.starts_at <= high + timedelta(days=8),
        )
    )
    if replacing:
        stmt = stmt.where(GroupSession.id.not_in(replacing))
    days: dict[uuid.UUID, list[date]] = defaultdict(list)
    for staff_id, starts_at in await session.execute(stmt):
        days[staff_id].append(starts_at.astimezone(tz).date())
    return days


def _table(model: type[object]) -> Table:
    """The model's table: Core inserts of many rows skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


async def materialize(session: AsyncSession, plan: Plan, resources: Sequence[Resource]) -> list[uuid.UUID]:
    """Insert the plan's sessions, facilitator rows and bookings; returns the new session ids."""
    ids = [uuid.uuid4() for _ in plan.occurrences]
    session_rows: list[dict[str, object]] = []
    for session_id, occ in zip(ids, plan.occurrences, strict=True):
        session_rows.append(
            {
                "id": session_id,
                "program_id": plan.program_id,
                "series_id": plan.series_id,
                "kind": plan.kind,
                "starts_at": occ.starts_at,
                "ends_at": occ.ends_at,
                "room_id": plan.room_id,
                "telehealth": plan.telehealth,
                "status": SessionStatus.CANCELLED if occ.cancelled else SessionStatus.SCHEDULED,
                "status_reason": occ.reason,
                "rescheduled_from": occ.moved_from,
            }
        )
    if not session_rows:
        return []
    facilitator_rows = [
        {"session_id": session_id, "staff_id": a.staff_id, "role": a.role, "covering_for": a.covering_for}
        for session_id in ids
        for a in plan.assignments
    ]
    booking_rows = [
        booking_row(session_id, r.lane, occ.starts_at, occ.ends_at)
        for session_id, occ in zip(ids, plan.occurrences, strict=True)
        if not occ.cancelled
        for r in resources
    ]
    await session.execute(insert(_table(GroupSession)), session_rows)
    if facilitator_rows:
        await session.execute(insert(_table(SessionFacilitator)), facilitator_rows)
    await book(session, booking_rows, resources)
    return ids


def booking_row(
    session_id: uuid.UUID, lane: int, starts_at: datetime, ends_at: datetime
) -> dict[str, object]:
    low, high = span(lane, starts_at, ends_at)
    return {"id": uuid.uuid4(), "session_id": session_id, "lane": lane, "span": Range(low, high, bounds="[)")}


async def book(session: AsyncSession, rows: list[dict[str, object]], resources: Sequence[Resource]) -> None:
    """Insert bookings in a savepoint; an overlap (now or by a concurrent commit) is a DoubleBookedError."""
    if not rows:
        return
    try:
        async with session.begin_nested():
            await session.execute(insert(_table(Booking)), rows)
    except IntegrityError as exc:
        if not isinstance(exc.orig, ExclusionViolation):
            raise
        by_lane = {r.lane: r for r in resources}
        lanes = [lane for lane in conflicting_lanes(exc.orig.diag.message_detail) if lane in by_lane]
        culprit = by_lane[lanes[0]] if lanes else resources[0]
        raise DoubleBookedError(culprit) from None


async def facilitator_resources(session: AsyncSession, session_id: uuid.UUID, field: str) -> list[Resource]:
    rows = await session.execute(
        select(StaffMember.lane, StaffMember.id)
        .join(SessionFacilitator, SessionFacilitator.staff_id == StaffMember.id)
        .where(SessionFacilitator.session_id == session_id)
    )
    return [Resource(lane, "facilitator", staff_id, field) for lane, staff_id in rows]


async def rebook(session: AsyncSession, target: GroupSession, resources: Sequence[Resource]) -> None:
    """Replace a session's bookings with ones at its (new) times."""
    await session.execute(delete(Booking).where(Booking.session_id == target.id))
    rows = [booking_row(target.id, r.lane, target.starts_at, target.ends_at) for r in resources]
    await book(session, rows, resources)


async def cancel(session: AsyncSession, target: GroupSession, reason: str) -> None:
    """A cancelled session holds no room or facilitator time; its roster stays for the record."""
    target.status = SessionStatus.CANCELLED
    target.status_reason = reason
    await session.execute(delete(Booking).where(Booking.session_id == target.id))
    await session.flush()


async def delete_future(session: AsyncSession, series_id: uuid.UUID, from_instant: datetime) -> int:
    """Remove a series' scheduled sessions from an instant on that have no attendance recorded.

    Cancelled and individually rescheduled sessions are kept (their reasons are the record), and
    regeneration leaves their days alone.
    """
    attended = exists().where(
        SessionAttendee.session_id == GroupSession.id, SessionAttendee.attendance.is_not(None)
    )
    result = await session.execute(
        delete(GroupSession)
        .where(
            GroupSession.series_id == series_id,
            GroupSession.starts_at >= from_instant,
            GroupSession.status == SessionStatus.SCHEDULED,
            GroupSession.rescheduled_from.is_(None),
            ~attended,
        )
        .returning(GroupSession.id)
    )
    return len(result.all())
