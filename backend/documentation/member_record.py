"""A member's record: every group and individual session they were on, as one viewer may see it.

Each entry is one session (newest first) with its kind, the member's attendance and minutes, the
session's group note and the member's own section and addenda. Privacy is applied in the SQL with
the rules of backend.documentation.access: a session whose attendance the viewer may not see is not
listed; a group note or section the viewer may not read never leaves the database and the entry
says it was withheld (never an empty note that looks unwritten). A client on mobile reads their own
attendance only (`own_attendance`), never any note text.

42 CFR Part 2 (backend.compliance.part2.access): an entry from a Part 2 program's session is listed
with its date, but its program, attendance and notes leave the database only under a Part 2
relation to this member (working in that program, their consent, a break-the-glass grant); else
they are withheld with the Part 2 marker (`*_part2_withheld`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, case, not_, null, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from backend.compliance.part2.access import Part2Scope, part2_scope
from backend.compliance.part2.consents import Category
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
    #: Part 2 content the viewer has no consent (or grant) for: program, attendance and minutes...
    part2_withheld: bool = False
    #: ... the group note, and the member's section and addenda.
    group_note_part2_withheld: bool = False
    section_part2_withheld: bool = False


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
    # In a member's record the group note is read as part of that member's history: under Part 2
    # it needs a relation to this member (their consent), not to any attendee.
    scope = await part2_scope(session, viewer, now)
    notes_cleared = scope.cleared(Category.NOTES, sa.session_id, sa.client_id)
    attendance_cleared = scope.cleared(Category.ATTENDANCE, sa.session_id, sa.client_id)
    note_allowed = visible(viewer, Part.GROUP_NOTE, sa.session_id, None)
    section_allowed = visible(viewer, Part.MEMBER_SECTION, sa.session_id, sa.client_id)
    note_readable = and_(note_allowed, notes_cleared)
    section_readable = and_(section_allowed, notes_cleared)

    def if_cleared(column: QueryableAttribute[Any], label: str) -> ColumnElement[Any]:
        return case((attendance_cleared, column), else_=null()).label(label)

    stmt = (
        select(
            GroupSession.id,
            GroupSession.kind,
            GroupSession.starts_at,
            GroupSession.ends_at,
            if_cleared(Program.name, "program_name"),
            if_cleared(sa.attendance, "attendance"),
            if_cleared(sa.minutes_attended, "minutes_attended"),
            if_cleared(sa.removed_at, "removed_at"),
            if_cleared(SessionRecord.status, "record_status"),
            case((note_readable, SessionRecord.group_note), else_=null()).label("group_note"),
            note_readable.label("note_readable"),
            and_(note_allowed, not_(notes_cleared)).label("note_part2_withheld"),
            MemberSection.scope,
            MemberSection.content,
            section_readable.label("section_readable"),
            and_(section_allowed, not_(notes_cleared)).label("section_part2_withheld"),
            not_(attendance_cleared).label("part2_withheld"),
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
    addenda = await _addenda(session, viewer, client_id, [r.id for r in rows], scope) if rows else {}
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
            part2_withheld=bool(r.part2_withheld),
            group_note_part2_withheld=bool(r.note_part2_withheld),
            section_part2_withheld=bool(r.section_part2_withheld),
        )
        for r in rows
    ]


async def _addenda(
    session: AsyncSession,
    viewer: Viewer,
    client_id: uuid.UUID,
    session_ids: list[uuid.UUID],
    scope: Part2Scope,
) -> dict[uuid.UUID, list[Addendum]]:
    """Addenda about the member, under the member-section rule and Part 2."""
    rows = await session.scalars(
        select(Addendum)
        .where(
            Addendum.client_id == client_id,
            Addendum.session_id.in_(session_ids),
            visible(viewer, Part.MEMBER_SECTION, Addendum.session_id, Addendum.client_id),
            scope.cleared(Category.NOTES, Addendum.session_id, Addendum.client_id),
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
    scope = await part2_scope(session, viewer, now)
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
            # A client reads their own Part 2 attendance (relation `self`); kept for the rule's sake.
            scope.cleared(Category.ATTENDANCE, sa.session_id, sa.client_id),
        )
    )
    rows = await session.execute(_newest_first(stmt, after, limit))
    return [
        OwnAttendance(r.id, r.kind, r.starts_at, r.program_name, r.attendance, r.minutes_attended)
        for r in rows
    ]
