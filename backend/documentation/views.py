"""A session record as one viewer may see it, read in a fixed number of statements.

Privacy is applied in the SQL (backend.documentation.access.visible): a member section, an
observation or an addendum about a member the viewer may not read never leaves the database;
the view says it was withheld instead of looking empty. Reading never creates the record: an
unopened one is shown as an empty draft on the program's template.

A session of a Part 2 program (42 CFR Part 2) is read under backend.compliance.part2.access too:
a viewer related only from outside the program (treating a member, supervising) sees a member's
attendance and section only under that member's consent or a break-the-glass grant, and the group
note under one of an attendee; otherwise each is withheld with the Part 2 marker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Boolean, ColumnElement, Executable, and_, bindparam, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clients.models import Client
from backend.compliance.part2.access import Part2Scope, part2_scope
from backend.compliance.part2.consents import Category
from backend.database import utcnow
from backend.documentation.access import IdColumn, Part, Viewer, viewer_shape, visible
from backend.documentation.models import (
    Addendum,
    MemberSection,
    Observation,
    RecordSignature,
    SessionRecord,
    SupervisionNote,
)
from backend.documentation.shapes import SESSION_ID, ShapedStatements
from backend.documentation.signoff import RecordStatus
from backend.documentation.template_store import template_for
from backend.documentation.templates import NoteTemplate, template_from_json
from backend.enrollment.models import SessionAttendee
from backend.programs.models import Modality, Program
from backend.scheduling.models import GroupSession, SessionFacilitator
from backend.staff.models import StaffMember


@dataclass(frozen=True)
class MemberView:
    client_id: uuid.UUID
    first_name: str
    last_name: str
    drop_in: bool
    attendance: str | None
    arrived_at: datetime | None
    departed_at: datetime | None
    minutes_attended: int | None
    removed_at: datetime | None
    removal_reason: str | None
    section: MemberSection | None
    #: The viewer may not read this member's section (never "no section yet").
    withheld: bool
    #: Part 2 content without consent: attendance (and its times), and the section.
    attendance_part2_withheld: bool = False
    section_part2_withheld: bool = False


@dataclass(frozen=True)
class SignerView:
    staff_id: uuid.UUID
    display_name: str
    role: str
    signature: RecordSignature | None


@dataclass
class RecordView:
    group_session: GroupSession
    program: Program | None
    status: RecordStatus
    started_at: datetime | None
    ended_at: datetime | None
    finalized_at: datetime | None
    template: NoteTemplate
    group_note: dict[str, object] | None
    group_note_withheld: bool
    members: list[MemberView]
    signers: list[SignerView]
    observations: list[Observation] = field(default_factory=list)
    addenda: list[Addendum] = field(default_factory=list)
    supervision_notes: list[SupervisionNote] = field(default_factory=list)
    #: The group note is Part 2 content no attendee's consent opens to the viewer.
    group_note_part2_withheld: bool = False


def _record_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    return (
        select(
            GroupSession,
            Program,
            SessionRecord,
            visible(viewer, Part.GROUP_NOTE, GroupSession.id, None).label("note_allowed"),
            scope.cleared(Category.NOTES, GroupSession.id, None).label("note_cleared"),
        )
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .outerjoin(SessionRecord, SessionRecord.session_id == GroupSession.id)
        .where(GroupSession.id == SESSION_ID)
    )


_RECORD = ShapedStatements(_record_statement)


async def read_record(
    session: AsyncSession,
    viewer: Viewer,
    session_id: uuid.UUID,
    at: datetime | None = None,
    scope: Part2Scope | None = None,
) -> RecordView | None:
    """The record as `viewer` may see it at `at` (now); None when the session does not exist or shows
    them nothing. `scope`: the viewer's Part 2 standing when the caller loaded it already."""
    scope = scope or await part2_scope(session, viewer, at or utcnow())
    params = {**scope.params(), SESSION_ID.key: session_id}
    row = (await session.execute(*_RECORD.bind(viewer_shape(viewer), params, viewer, scope))).one_or_none()
    if row is None:
        return None
    group_session, program, record, note_allowed, note_cleared = row
    note_visible = bool(note_allowed and note_cleared)
    members = await _members(session, viewer, params, scope)
    if not note_allowed and not members:
        return None
    if record is not None:
        template = template_from_json(record.template)
    else:
        template = await template_for(session, program.modality.value if program else Modality.OTHER.value)
    view = RecordView(
        group_session=group_session,
        program=program,
        status=record.status if record else RecordStatus.DRAFT,
        started_at=record.started_at if record else None,
        ended_at=record.ended_at if record else None,
        finalized_at=record.finalized_at if record else None,
        template=template,
        group_note=(record.group_note if record else {}) if note_visible else None,
        group_note_withheld=not note_visible,
        members=members,
        signers=await _signers(session, params),
        group_note_part2_withheld=bool(note_allowed and not note_cleared),
    )
    if record is not None:
        await _narrative(session, viewer, view, {**params, NOTE_VISIBLE.key: note_visible}, scope)
    return view


def _members_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    sa = SessionAttendee
    section_allowed = visible(viewer, Part.MEMBER_SECTION, sa.session_id, sa.client_id)
    notes_cleared = scope.cleared(Category.NOTES, sa.session_id, sa.client_id)
    attendance_cleared = scope.cleared(Category.ATTENDANCE, sa.session_id, sa.client_id)
    section_visible = and_(section_allowed, notes_cleared)
    return (
        select(
            SessionAttendee,
            Client.first_name,
            Client.last_name,
            MemberSection,
            section_visible.label("readable"),
            and_(section_allowed, not_(notes_cleared)).label("section_part2_withheld"),
            attendance_cleared.label("attendance_cleared"),
        )
        .join(Client, Client.id == SessionAttendee.client_id)
        .outerjoin(
            MemberSection,
            and_(
                MemberSection.session_id == SessionAttendee.session_id,
                MemberSection.client_id == SessionAttendee.client_id,
                section_visible,
            ),
        )
        .where(
            SessionAttendee.session_id == SESSION_ID,
            visible(viewer, Part.ATTENDANCE, SessionAttendee.session_id, SessionAttendee.client_id),
        )
        .order_by(Client.last_name, Client.first_name, Client.id)
    )


_MEMBERS = ShapedStatements(_members_statement)


async def _members(
    session: AsyncSession, viewer: Viewer, params: dict[str, object], scope: Part2Scope
) -> list[MemberView]:
    """Roster rows the viewer may see the attendance of, each with its section when readable."""
    rows = await session.execute(*_MEMBERS.bind(viewer_shape(viewer), params, viewer, scope))
    return [
        _member_view(a, first, last, section, readable, part2_section, attendance_cleared)
        for a, first, last, section, readable, part2_section, attendance_cleared in rows
    ]


def _member_view(
    a: SessionAttendee,
    first: str,
    last: str,
    section: MemberSection | None,
    readable: bool,
    part2_section: bool,
    attendance_cleared: bool,
) -> MemberView:
    if not attendance_cleared:
        # Part 2: the member is shown (the viewer relates to them) but not their attendance here.
        return MemberView(
            a.client_id, first, last, a.enrollment_id is None, None, None, None, None, None, None,
            section, not readable, attendance_part2_withheld=True, section_part2_withheld=part2_section,
        )  # fmt: skip
    return MemberView(
        client_id=a.client_id,
        first_name=first,
        last_name=last,
        drop_in=a.enrollment_id is None,
        attendance=a.attendance.value if a.attendance else None,
        arrived_at=a.arrived_at,
        departed_at=a.departed_at,
        minutes_attended=a.minutes_attended,
        removed_at=a.removed_at,
        removal_reason=a.removal_reason,
        section=section,
        withheld=not readable,
        section_part2_withheld=part2_section,
    )


def _signers_statement() -> Executable:
    return (
        select(SessionFacilitator, StaffMember.display_name, RecordSignature)
        .join(StaffMember, StaffMember.id == SessionFacilitator.staff_id)
        .outerjoin(
            RecordSignature,
            and_(
                RecordSignature.session_id == SessionFacilitator.session_id,
                RecordSignature.staff_id == SessionFacilitator.staff_id,
            ),
        )
        .where(SessionFacilitator.session_id == SESSION_ID)
        .order_by(SessionFacilitator.role.desc(), StaffMember.display_name)  # lead before co
    )


_SIGNERS = ShapedStatements(_signers_statement)


async def _signers(session: AsyncSession, params: dict[str, object]) -> list[SignerView]:
    rows = await session.execute(*_SIGNERS.bind((), params))
    return [SignerView(f.staff_id, name, f.role.value, signature) for f, name, signature in rows]


#: Whether the viewer may read the group note (observations and addenda not about a member follow it).
NOTE_VISIBLE = bindparam("v_note_visible", type_=Boolean())


def _readable(viewer: Viewer, scope: Part2Scope, client_id: IdColumn) -> ColumnElement[bool]:
    """An observation or addendum: about a member under that member's section rule, else the group
    note's."""
    about_member = and_(
        visible(viewer, Part.MEMBER_SECTION, SESSION_ID, client_id),
        scope.cleared(Category.NOTES, SESSION_ID, client_id),
    )
    return or_(and_(client_id.is_(None), NOTE_VISIBLE), and_(client_id.is_not(None), about_member))


_OBSERVATIONS = ShapedStatements(
    lambda viewer, scope: (
        select(Observation)
        .where(Observation.session_id == SESSION_ID, _readable(viewer, scope, Observation.client_id))
        .order_by(Observation.updated_at)
    )
)
_ADDENDA = ShapedStatements(
    lambda viewer, scope: (
        select(Addendum)
        .where(Addendum.session_id == SESSION_ID, _readable(viewer, scope, Addendum.client_id))
        .order_by(Addendum.created_at)
    )
)
_SUPERVISION_NOTES = ShapedStatements(
    lambda: (
        select(SupervisionNote)
        .where(SupervisionNote.session_id == SESSION_ID)
        .order_by(SupervisionNote.created_at)
    )
)


async def _narrative(
    session: AsyncSession, viewer: Viewer, view: RecordView, params: dict[str, object], scope: Part2Scope
) -> None:
    """Observations, addenda and (with the group note) supervision notes."""
    shape = viewer_shape(viewer)
    view.observations = list(await session.scalars(*_OBSERVATIONS.bind(shape, params, viewer, scope)))
    view.addenda = list(await session.scalars(*_ADDENDA.bind(shape, params, viewer, scope)))
    if params[NOTE_VISIBLE.key]:
        view.supervision_notes = list(await session.scalars(*_SUPERVISION_NOTES.bind((), params)))
