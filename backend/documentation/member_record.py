"""A member's record: every group and individual session they were on, as one viewer may see it.

Each entry is one session (newest first) with its kind, the member's attendance and minutes, the
session's group note and the member's own section and addenda. Privacy is applied in the SQL with
the rules of backend.documentation.access: a session whose attendance the viewer may not see is not
listed; a group note or section the viewer may not read never leaves the database and the entry
says it was withheld (never an empty note that looks unwritten). A client on mobile reads their own
attendance only (`own_attendance`), never any note text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, case, null, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.documentation.access import Part, Viewer, visible
from backend.documentation.models import Addendum, MemberSection, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import Scope
from backend.enrollment.models import SessionAttendee
from backend.enrollment.rules import Attendance
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionKind, SessionStatus

#: A position in a newest-first history: (starts_at, session_id) of the last entry shown.
Position = tuple[datetime, uuid.UUID]
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class HistoryEntry:
    session_id: uuid.UUID
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    program_name: str | None
    attendance: Attendance | None
    minutes_attended: int | None
    removed_at: datetime | None
    record_status: RecordStatus | None
    group_note: dict[str, object] | None
    group_note_withheld: bool
    section_scope: Scope | None
    section: dict[str, object] | None
    #: The member's section and addenda about them are not readable by the viewer.
    section_withheld: bool
    addenda: tuple[Addendum, ...] = ()


@dataclass(frozen=True)
class OwnAttendance:
    session_id: uuid.UUID
    kind: SessionKind
    starts_at: datetime
    program_name: str | None
    attendance: Attendance | None
    minutes_attended: int | None


def _newest_first(stmt: Select[*Columns], after: Position | None, limit: int) -> Select[*Columns]:
    if after is not None:
        stmt = stmt.where(tuple_(GroupSession.starts_at, GroupSession.id) < tuple_(*after))
    return stmt.order_by(GroupSession.starts_at.desc(), GroupSession.id.desc()).limit(limit)


def _history_sessions(client_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    """Sessions the member was on that have started and were not cancelled."""
    return and_(
        SessionAttendee.client_id == client_id,
        GroupSession.starts_at <= now,
        GroupSession.status != SessionStatus.CANCELLED,
    )


async def member_history(
    session: AsyncSession,
    viewer: Viewer,
    client_id: uuid.UUID,
    now: datetime,
    after: Position | None,
    limit: int,
) -> list[HistoryEntry]:
    """Up to `limit` entries after `after`, newest first, in two statements whatever the page size."""
    sa = SessionAttendee
    note_readable = visible(viewer, Part.GROUP_NOTE, sa.session_id, None)
    section_readable = visible(viewer, Part.MEMBER_SECTION, sa.session_id, sa.client_id)
    stmt = (
        select(
            GroupSession.id,
            GroupSession.kind,
            GroupSession.starts_at,
            GroupSession.ends_at,
            Program.name.label("program_name"),
            sa.attendance,
            sa.minutes_attended,
            sa.removed_at,
            SessionRecord.status.label("record_status"),
            case((note_readable, SessionRecord.group_note), else_=null()).label("group_note"),
            note_readable.label("note_readable"),
            MemberSection.scope,
            MemberSection.content,
            section_readable.label("section_readable"),
        )
        .join(GroupSession, GroupSession.id == sa.session_id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .outerjoin(SessionRecord, SessionRecord.session_id == sa.session_id)
        .outerjoin(
            MemberSection,
            # A section the viewer may not read is not joined at all.
            and_(
                MemberSection.session_id == sa.session_id,
                MemberSection.client_id == sa.client_id,
                section_readable,
            ),
        )
        .where(
            _history_sessions(client_id, now),
            visible(viewer, Part.ATTENDANCE, sa.session_id, sa.client_id),
        )
    )
    rows = (await session.execute(_newest_first(stmt, after, limit))).all()
    addenda = await _addenda(session, viewer, client_id, [r.id for r in rows]) if rows else {}
    return [
        HistoryEntry(
            session_id=r.id,
            kind=r.kind,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            program_name=r.program_name,
            attendance=r.attendance,
            minutes_attended=r.minutes_attended,
            removed_at=r.removed_at,
            record_status=r.record_status,
            group_note=(r.group_note or {}) if r.note_readable and r.record_status else None,
            group_note_withheld=not r.note_readable,
            section_scope=r.scope,
            section=r.content if r.section_readable else None,
            section_withheld=not r.section_readable,
            addenda=tuple(addenda.get(r.id, ())),
        )
        for r in rows
    ]


async def _addenda(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, session_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Addendum]]:
    """Addenda about the member, under the member-section rule."""
    rows = await session.scalars(
        select(Addendum)
        .where(
            Addendum.client_id == client_id,
            Addendum.session_id.in_(session_ids),
            visible(viewer, Part.MEMBER_SECTION, Addendum.session_id, Addendum.client_id),
        )
        .order_by(Addendum.created_at)
    )
    found: dict[uuid.UUID, list[Addendum]] = {}
    for a in rows:
        found.setdefault(a.session_id, []).append(a)
    return found


async def own_attendance(
    session: AsyncSession,
    viewer: Viewer,
    now: datetime,
    after: Position | None,
    limit: int,
) -> list[OwnAttendance]:
    """The signed-in client's own attendance (no note text is even selected), newest first."""
    if viewer.client_id is None:
        return []
    sa = SessionAttendee
    stmt = (
        select(
            GroupSession.id,
            GroupSession.kind,
            GroupSession.starts_at,
            Program.name.label("program_name"),
            sa.attendance,
            sa.minutes_attended,
        )
        .join(GroupSession, GroupSession.id == sa.session_id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(
            _history_sessions(viewer.client_id, now),
            sa.removed_at.is_(None),
            visible(viewer, Part.ATTENDANCE, sa.session_id, sa.client_id),
        )
    )
    rows = await session.execute(_newest_first(stmt, after, limit))
    return [
        OwnAttendance(r.id, r.kind, r.starts_at, r.program_name, r.attendance, r.minutes_attended)
        for r in rows
    ]
