"""A session's roster: whole-roster attendance, drop-ins, and clinical contacts with members.

Recording attendance writes outbox `roster.attendance_recorded` in the same transaction, so the
absence job (backend.enrollment.absences) runs right after; a clinical contact writes
`roster.clinical_contact_recorded`, which can clear an absence flag.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clients.models import Client
from backend.database import utcnow
from backend.documentation.presence import Mark, mark_problems, minutes_attended, session_time_problems
from backend.documentation.signoff import edit_problems
from backend.documentation.store import load_state
from backend.enrollment.absences import ATTENDANCE_RECORDED, CONTACT_RECORDED
from backend.enrollment.models import ClinicalContact, SessionAttendee
from backend.enrollment.rules import ContactKind, attendance_problems
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionStatus
from backend.staff.models import StaffMember
from backend.workers.outbox import add_message

_NOBODY = uuid.UUID(int=0)
# A contact time a few minutes ahead is clock skew between devices, not a future contact.
CLOCK_SKEW = timedelta(minutes=5)


async def session_roster(session: AsyncSession, session_id: uuid.UUID) -> list[SessionAttendee]:
    stmt = (
        select(SessionAttendee)
        .join(Client, Client.id == SessionAttendee.client_id)
        .where(SessionAttendee.session_id == session_id)
        .order_by(Client.last_name, Client.first_name, Client.id)
    )
    return list((await session.scalars(stmt)).all())


async def record_attendance(
    session: AsyncSession,
    session_id: uuid.UUID,
    marks: list[Mark],
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    staff_id: uuid.UUID | None = None,
) -> list[SessionAttendee]:
    """Mark every roster member of a session that has started and is not cancelled, once per save.

    Arrival and departure times must fall inside the session (its recorded start and stop, else
    the scheduled ones); minutes attended are stored with the mark. Attendance is part of what
    every signature attests, so it is frozen once anyone has signed the record.
    """
    group_session = await _locked_session(session, session_id)
    if group_session.status == SessionStatus.CANCELLED:
        raise InputRejected([FieldProblem("sessionId", "session_cancelled", "the session was cancelled")])
    if group_session.starts_at > utcnow():
        raise InputRejected([FieldProblem("sessionId", "not_started", "the session has not started yet")])
    state = await load_state(session, session_id, lock=True)
    if state.signatures:
        # Attendance is shared content: any signature freezes it (the editor's id only words the reason).
        raise InputRejected(
            edit_problems(state.record.status, state.signed, staff_id or _NOBODY, shared=True)
        )
    roster = [a for a in state.roster if a.removed_at is None]
    problems = attendance_problems({a.client_id for a in roster}, [uuid.UUID(m.client_key) for m in marks])
    if started_at is not None or ended_at is not None:
        problems += session_time_problems(
            started_at or group_session.starts_at, ended_at or group_session.ends_at, group_session.starts_at
        )
    if problems:
        raise InputRejected(problems)
    state.record.started_at = started_at or state.record.started_at
    state.record.ended_at = ended_at or state.record.ended_at
    starts_at, ends_at = state.span
    problems = mark_problems(marks, starts_at, ends_at, prefix="entries")
    if problems:
        raise InputRejected(problems)
    by_client = {a.client_id: a for a in roster}
    for mark in marks:
        attendee = by_client[uuid.UUID(mark.client_key)]
        attendee.attendance = mark.attendance
        attendee.arrived_at = mark.arrived_at
        attendee.departed_at = mark.departed_at
        attendee.minutes_attended = minutes_attended(mark, starts_at, ends_at)
    await session.flush()
    add_message(session, ATTENDANCE_RECORDED, {"session_id": session_id})
    return await _refreshed(session, session_id)


async def _refreshed(session: AsyncSession, session_id: uuid.UUID) -> list[SessionAttendee]:
    stmt = (
        select(SessionAttendee)
        .join(Client, Client.id == SessionAttendee.client_id)
        .where(SessionAttendee.session_id == session_id, SessionAttendee.removed_at.is_(None))
        .order_by(Client.last_name, Client.first_name, Client.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def _locked_session(session: AsyncSession, session_id: uuid.UUID) -> GroupSession:
    stmt = select(GroupSession).where(GroupSession.id == session_id).with_for_update()
    found = (await session.scalars(stmt)).one_or_none()
    if found is None:
        raise InputRejected(
            [FieldProblem("sessionId", "not_found", "does not name a session in this clinic")]
        )
    return found


async def add_drop_in(session: AsyncSession, session_id: uuid.UUID, client_id: uuid.UUID) -> SessionAttendee:
    """Put a client on one scheduled group session only (no enrollment), within the program's capacity."""
    group_session = await _locked_session(session, session_id)
    if group_session.program_id is None:
        raise InputRejected([FieldProblem("sessionId", "not_a_group", "is not a group session")])
    if group_session.status != SessionStatus.SCHEDULED:
        raise InputRejected(
            [FieldProblem("sessionId", "session_closed", f"the session is {group_session.status}")]
        )
    if await session.get(Client, client_id) is None:
        raise InputRejected([FieldProblem("clientId", "not_found", "does not name a client in this clinic")])
    if await session.get(SessionAttendee, (session_id, client_id)) is not None:
        raise InputRejected(
            [FieldProblem("clientId", "already_on_roster", "is already on this session's roster")]
        )
    program = await session.get_one(Program, group_session.program_id)
    size = await session.scalar(
        select(func.count()).select_from(SessionAttendee).where(SessionAttendee.session_id == session_id)
    )
    if int(size or 0) >= program.capacity:
        raise InputRejected(
            [FieldProblem("sessionId", "session_full", "the session's roster is at capacity")]
        )
    attendee = SessionAttendee(session_id=session_id, client_id=client_id, enrollment_id=None)
    session.add(attendee)
    await session.flush()
    return attendee


async def record_clinical_contact(
    session: AsyncSession, *, client_id: uuid.UUID, occurred_at: datetime, kind: str, user_id: uuid.UUID
) -> ClinicalContact:
    problems: list[FieldProblem] = []
    if kind not in {k.value for k in ContactKind}:
        problems.append(FieldProblem("kind", "invalid", "is not a kind of clinical contact"))
    if occurred_at.tzinfo is None:
        problems.append(FieldProblem("occurredAt", "no_offset", "must carry a UTC offset"))
    elif occurred_at > utcnow() + CLOCK_SKEW:
        problems.append(FieldProblem("occurredAt", "in_future", "must not be in the future"))
    if problems:
        raise InputRejected(problems)
    if await session.get(Client, client_id) is None:
        raise InputRejected([FieldProblem("clientId", "not_found", "does not name a client in this clinic")])
    staff_id = await session.scalar(select(StaffMember.id).where(StaffMember.user_id == user_id))
    contact = ClinicalContact(
        id=uuid.uuid4(), client_id=client_id, occurred_at=occurred_at, staff_id=staff_id, kind=kind
    )
    session.add(contact)
    await session.flush()
    add_message(session, CONTACT_RECORDED, {"client_id": client_id})
    return contact
