"""Keeping each session's roster in step with enrollments.

An open enrollment (active or on hold) puts its member on every scheduled session of the program
whose local date lies between the enrollment's start and end dates. Ending an enrollment takes
the member off the sessions after its end date that have no attendance recorded; past sessions
keep their roster. Each is one set-based statement, so enrolling mid-series or generating a
year of sessions costs the same few statements.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ColumnElement, Delete, Update, and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.enrollment.models import Enrollment, EnrollmentStatus, SessionAttendee
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionStatus

OPEN_STATUSES = (
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.ON_HOLD_CLINICAL,
    EnrollmentStatus.ON_HOLD_ADMINISTRATIVE,
)


def session_local_date() -> ColumnElement[date]:
    """The session's date where the program meets (a 7 pm Pacific session is still "today" there)."""
    return func.date(func.timezone(Program.timezone, GroupSession.starts_at))


def fill_statement(program_id: uuid.UUID, enrollment_id: uuid.UUID | None = None) -> Insert:
    """Add every open enrollment's member (or one enrollment's) to the scheduled sessions it covers."""
    pairs = (
        select(GroupSession.id, Enrollment.client_id, Enrollment.id)
        .join(Program, Program.id == GroupSession.program_id)
        .join(Enrollment, Enrollment.program_id == GroupSession.program_id)
        .where(
            GroupSession.program_id == program_id,
            GroupSession.status == SessionStatus.SCHEDULED,
            Enrollment.status.in_(OPEN_STATUSES),
            Enrollment.starts_on <= session_local_date(),
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= session_local_date()),
            ~exists().where(
                and_(
                    SessionAttendee.session_id == GroupSession.id,
                    SessionAttendee.client_id == Enrollment.client_id,
                )
            ),
        )
    )
    if enrollment_id is not None:
        pairs = pairs.where(Enrollment.id == enrollment_id)
    # A concurrent fill (session generation racing an enrollment) may add the same pair first.
    return (
        insert(SessionAttendee)
        .from_select(["session_id", "client_id", "enrollment_id"], pairs)
        .on_conflict_do_nothing(index_elements=["session_id", "client_id"])
    )


def adopt_statement(enrollment_id: uuid.UUID) -> Update:
    """A drop-in who then enrolls: their drop-in rows on sessions the enrollment covers become theirs.

    Without this the drop-in row (enrollment None) would keep the enrollment's mark out of the
    absence rule and out of trimming when the enrollment ends.
    """
    covered = (
        select(GroupSession.id)
        .join(Program, Program.id == GroupSession.program_id)
        .join(Enrollment, Enrollment.program_id == GroupSession.program_id)
        .where(
            Enrollment.id == enrollment_id,
            Enrollment.starts_on <= session_local_date(),
            or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= session_local_date()),
        )
    )
    client = select(Enrollment.client_id).where(Enrollment.id == enrollment_id).scalar_subquery()
    return (
        update(SessionAttendee)
        .where(
            SessionAttendee.enrollment_id.is_(None),
            SessionAttendee.client_id == client,
            SessionAttendee.session_id.in_(covered),
        )
        .values(enrollment_id=enrollment_id)
        .execution_options(synchronize_session=False)
    )


def trim_statement(enrollment_id: uuid.UUID, after: date) -> Delete:
    """Take one enrollment's member off its program's sessions after `after` not yet attended."""
    later = (
        select(GroupSession.id)
        .join(Program, Program.id == GroupSession.program_id)
        .where(session_local_date() > after)
    )
    return delete(SessionAttendee).where(
        SessionAttendee.enrollment_id == enrollment_id,
        SessionAttendee.attendance.is_(None),
        SessionAttendee.session_id.in_(later),
    )


async def fill_roster(
    session: AsyncSession, program_id: uuid.UUID, enrollment_id: uuid.UUID | None = None
) -> None:
    if enrollment_id is not None:
        await session.execute(adopt_statement(enrollment_id))
    await session.execute(fill_statement(program_id, enrollment_id))


async def trim_roster(session: AsyncSession, enrollment_id: uuid.UUID, after: date) -> None:
    await session.execute(trim_statement(enrollment_id, after))


def fill_roster_sync(session: Session, program_id: uuid.UUID, enrollment_id: uuid.UUID | None = None) -> None:
    """The same, from a worker's sync session."""
    if enrollment_id is not None:
        session.execute(adopt_statement(enrollment_id))
    session.execute(fill_statement(program_id, enrollment_id))


def trim_roster_sync(session: Session, enrollment_id: uuid.UUID, after: date) -> None:
    session.execute(trim_statement(enrollment_id, after))
