"""The pre-session brief: what a facilitator reads about each member before the group starts.

One query per kind of fact, each over the whole roster (`= ANY` over the member ids, window functions
for "the last N per member"), so the number of statements does not grow with the roster; each is
built once per viewer shape and bound per call (backend.documentation.shapes):

| fact                 | source                                                                      |
|----------------------|-----------------------------------------------------------------------------|
| recent attendance    | the member's last 4 earlier, not cancelled sessions whose attendance the    |
|                      | viewer may see (Part.ATTENDANCE)                                            |
| last section         | the member's latest individual section of an earlier session; its content   |
|                      | only when the viewer may read it (Part.MEMBER_SECTION), else withheld       |
| open risk flags      | risk_flags not resolved; the level only under the Part 2 clearance of the   |
|                      | section that raised it (Category.NOTES), else the flag is marked withheld   |
| authorization        | the active one on the session date billing would use (the session's service |
|                      | first, then one with sessions left)                                         |
| visit cap            | the primary coverage's cap and the billable events of that calendar year    |
| last group note      | the program's previous final record (Part.GROUP_NOTE, else withheld)        |

Who may ask for the brief at all is checked by the caller (a relationship to the session).
Part 2 (backend.compliance.part2.access): attendance, a section or a group note from a Part 2
program's session is shown only under a Part 2 relation to the member (or, for a group note, to an
attendee); otherwise it is listed with the Part 2 marker (`part2_withheld`) and no content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    Date,
    DateTime,
    Executable,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    not_,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backend.billing.session_facts import service_of
from backend.clients.authorization_rules import calendar_year, expiring_soon, remaining
from backend.clients.models import Authorization, Client, ClientCoverage, current_primary
from backend.clients.rules import CoveragePriority
from backend.clinic.models import ClinicSettings
from backend.clinic.store import clinic_settings
from backend.compliance.part2.access import Part2Scope, part2_scope
from backend.compliance.part2.consents import Category
from backend.database import utcnow
from backend.documentation.access import Part, Viewer, viewer_shape, visible
from backend.documentation.models import BillableEvent, MemberSection, RiskFlag, SessionRecord
from backend.documentation.shapes import SESSION_ID, ShapedStatements
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import RiskLevel, Scope
from backend.enrollment.models import SessionAttendee
from backend.enrollment.rules import Attendance
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionKind, SessionStatus

RECENT_SESSIONS = 4

# Per-call values, bound (backend.documentation.shapes): the statements are built once per shape.
MEMBERS = bindparam("v_members", type_=ARRAY(Uuid()))
BEFORE = bindparam("v_before", type_=DateTime(timezone=True))
ON = bindparam("v_on", type_=Date())
SERVICE = bindparam("v_service", type_=String())


@dataclass(frozen=True)
class PastAttendance:
    session_id: uuid.UUID
    kind: SessionKind
    starts_at: datetime
    program_name: str | None
    attendance: Attendance | None
    minutes_attended: int | None
    #: Part 2 attendance without consent: program, attendance and minutes are withheld.
    part2_withheld: bool = False


@dataclass(frozen=True)
class EarlierNote:
    """A section or group note of an earlier session; `content` is None when `withheld`."""

    session_id: uuid.UUID
    starts_at: datetime
    program_name: str | None
    content: dict[str, object] | None
    withheld: bool
    #: Withheld because it is Part 2 content without consent (or grant).
    part2_withheld: bool = False


@dataclass(frozen=True)
class OpenRisk:
    """An unresolved risk flag; `level` is None when it was raised in a Part 2 record the viewer
    may not read (the flag is still listed, so the facilitator knows to ask or break glass)."""

    id: uuid.UUID
    session_id: uuid.UUID
    level: RiskLevel | None
    raised_at: datetime
    part2_withheld: bool = False


@dataclass(frozen=True)
class AuthorizationLeft:
    authorization_id: uuid.UUID
    reference: str
    sessions_authorized: int
    sessions_used: int
    remaining: int
    starts_on: date
    ends_on: date
    expiring_soon: bool


@dataclass(frozen=True)
class VisitCap:
    coverage_id: uuid.UUID
    client_id: uuid.UUID
    priority: CoveragePriority
    payer_name: str
    visit_cap: int | None
    visits_used: int


@dataclass(frozen=True)
class BriefMember:
    client_id: uuid.UUID
    first_name: str
    last_name: str
    drop_in: bool
    recent_attendance: tuple[PastAttendance, ...]
    last_section: EarlierNote | None
    risk_flags: tuple[OpenRisk, ...]
    authorization: AuthorizationLeft | None
    visit_cap: VisitCap | None


@dataclass(frozen=True)
class SessionBrief:
    group_session: GroupSession
    program: Program | None
    session_date: date
    members: tuple[BriefMember, ...]
    last_group_note: EarlierNote | None


async def read_brief(
    session: AsyncSession,
    viewer: Viewer,
    session_id: uuid.UUID,
    at: datetime | None = None,
    scope: Part2Scope | None = None,
) -> SessionBrief | None:
    """The brief of a session (None when there is no such session) as the viewer may see it at `at`
    (now), or under the Part 2 `scope` the caller loaded; the caller checked the relationship."""
    scope = scope or await part2_scope(session, viewer, at or utcnow())
    params: dict[str, object] = {SESSION_ID.key: session_id}
    row = (await session.execute(*_SESSION.bind((), params))).one_or_none()
    if row is None:
        return None
    group_session, program = row
    zone = program.timezone if program is not None else (await clinic_settings(session)).timezone
    on = group_session.starts_at.astimezone(ZoneInfo(zone)).date()
    roster = (await session.execute(*_ROSTER.bind((), params))).all()
    ids = [r.client_id for r in roster]
    params |= {
        **scope.params(),
        MEMBERS.key: ids,
        BEFORE.key: group_session.starts_at,
        ON.key: on,
        SERVICE.key: service_of(program).value,
    }
    attendance = await _recent_attendance(session, viewer, params, scope) if ids else {}
    sections = await _last_sections(session, viewer, params, scope) if ids else {}
    risks = await _open_risks(session, viewer, params, scope) if ids else {}
    authorizations = await _authorizations(session, params) if ids else {}
    caps = {c.client_id: c for c in await visit_caps(session, ids, on)} if ids else {}
    members = tuple(
        BriefMember(
            client_id=r.client_id,
            first_name=r.first_name,
            last_name=r.last_name,
            drop_in=r.enrollment_id is None,
            recent_attendance=tuple(attendance.get(r.client_id, ())),
            last_section=sections.get(r.client_id),
            risk_flags=tuple(risks.get(r.client_id, ())),
            authorization=authorizations.get(r.client_id),
            visit_cap=caps.get(r.client_id),
        )
        for r in roster
    )
    note = await _last_group_note(session, viewer, group_session, params, scope) if program else None
    return SessionBrief(group_session, program, on, members, note)


_SESSION = ShapedStatements(
    lambda: (
        select(GroupSession, Program)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(GroupSession.id == SESSION_ID)
    )
)
_ROSTER = ShapedStatements(
    lambda: (
        select(SessionAttendee.client_id, SessionAttendee.enrollment_id, Client.first_name, Client.last_name)
        .join(Client, Client.id == SessionAttendee.client_id)
        .where(SessionAttendee.session_id == SESSION_ID, SessionAttendee.removed_at.is_(None))
        .order_by(Client.last_name, Client.first_name, Client.id)
    )
)


def _recent_attendance_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    sa = SessionAttendee
    cleared = scope.cleared(Category.ATTENDANCE, sa.session_id, sa.client_id)
    n = func.row_number().over(
        partition_by=sa.client_id, order_by=(GroupSession.starts_at.desc(), GroupSession.id.desc())
    )
    ranked = (
        select(
            sa.client_id,
            GroupSession.id.label("session_id"),
            GroupSession.kind,
            GroupSession.starts_at,
            case((cleared, Program.name), else_=null()).label("program_name"),
            case((cleared, sa.attendance), else_=null()).label("attendance"),
            case((cleared, sa.minutes_attended), else_=null()).label("minutes_attended"),
            not_(cleared).label("part2_withheld"),
            n.label("n"),
        )
        .join(GroupSession, GroupSession.id == sa.session_id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(
            sa.client_id == any_(MEMBERS),
            sa.removed_at.is_(None),
            GroupSession.starts_at < BEFORE,
            GroupSession.status != SessionStatus.CANCELLED,
            # Filtered before ranking: the last sessions the viewer may see, never a gap.
            visible(viewer, Part.ATTENDANCE, sa.session_id, sa.client_id),
        )
        .subquery()
    )
    return (
        select(ranked)
        .where(ranked.c.n <= RECENT_SESSIONS)
        .order_by(ranked.c.client_id, ranked.c.starts_at.desc())
    )


_RECENT_ATTENDANCE = ShapedStatements(_recent_attendance_statement)


async def _recent_attendance(
    session: AsyncSession, viewer: Viewer, params: dict[str, object], scope: Part2Scope
) -> dict[uuid.UUID, list[PastAttendance]]:
    rows = await session.execute(*_RECENT_ATTENDANCE.bind(viewer_shape(viewer), params, viewer, scope))
    found: dict[uuid.UUID, list[PastAttendance]] = {}
    for r in rows:
        found.setdefault(r.client_id, []).append(
            PastAttendance(
                r.session_id,
                r.kind,
                r.starts_at,
                r.program_name,
                r.attendance,
                r.minutes_attended,
                bool(r.part2_withheld),
            )
        )
    return found


def _last_sections_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    ms = MemberSection
    allowed = visible(viewer, Part.MEMBER_SECTION, ms.session_id, ms.client_id)
    cleared = scope.cleared(Category.NOTES, ms.session_id, ms.client_id)
    attendance_cleared = scope.cleared(Category.ATTENDANCE, ms.session_id, ms.client_id)
    readable = and_(allowed, cleared)
    n = func.row_number().over(
        partition_by=ms.client_id, order_by=(GroupSession.starts_at.desc(), GroupSession.id.desc())
    )
    ranked = (
        select(
            ms.client_id,
            ms.session_id,
            GroupSession.starts_at,
            case((attendance_cleared, Program.name), else_=null()).label("program_name"),
            # The content never leaves the database when the viewer may not read it.
            case((readable, ms.content), else_=null()).label("content"),
            readable.label("readable"),
            and_(allowed, not_(cleared)).label("part2_withheld"),
            n.label("n"),
        )
        .join(GroupSession, GroupSession.id == ms.session_id)
        .join(
            SessionAttendee,
            and_(SessionAttendee.session_id == ms.session_id, SessionAttendee.client_id == ms.client_id),
        )
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(
            ms.client_id == any_(MEMBERS),
            ms.scope == Scope.MEMBER,
            SessionAttendee.removed_at.is_(None),
            GroupSession.starts_at < BEFORE,
        )
        .subquery()
    )
    return select(ranked).where(ranked.c.n == 1)


_LAST_SECTIONS = ShapedStatements(_last_sections_statement)


async def _last_sections(
    session: AsyncSession, viewer: Viewer, params: dict[str, object], scope: Part2Scope
) -> dict[uuid.UUID, EarlierNote]:
    rows = await session.execute(*_LAST_SECTIONS.bind(viewer_shape(viewer), params, viewer, scope))
    return {
        r.client_id: EarlierNote(
            r.session_id,
            r.starts_at,
            r.program_name,
            r.content if r.readable else None,
            not r.readable,
            bool(r.part2_withheld),
        )
        for r in rows
    }


def _open_risks_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    """Open flags; the level is a finding of the member's section, so it needs the same Part 2
    clearance as the section it came from (Category.NOTES)."""
    f = RiskFlag
    cleared = scope.cleared(Category.NOTES, f.session_id, f.client_id)
    return (
        select(
            f.id,
            f.client_id,
            f.session_id,
            case((cleared, f.level), else_=null()).label("level"),
            f.raised_at,
            not_(cleared).label("part2_withheld"),
        )
        .where(f.client_id == any_(MEMBERS), f.resolved_at.is_(None))
        .order_by(f.raised_at.desc())
    )


_OPEN_RISKS = ShapedStatements(_open_risks_statement)


async def _open_risks(
    session: AsyncSession, viewer: Viewer, params: dict[str, object], scope: Part2Scope
) -> dict[uuid.UUID, list[OpenRisk]]:
    rows = await session.execute(*_OPEN_RISKS.bind(viewer_shape(viewer), params, viewer, scope))
    found: dict[uuid.UUID, list[OpenRisk]] = {}
    for f in rows:
        risk = OpenRisk(f.id, f.session_id, f.level, f.raised_at, bool(f.part2_withheld))
        found.setdefault(f.client_id, []).append(risk)
    return found


def _authorizations_statement() -> Executable:
    a = Authorization
    return (
        select(a)
        .join(ClientCoverage, ClientCoverage.id == a.coverage_id)
        .where(
            a.client_id == any_(MEMBERS),
            a.starts_on <= ON,
            a.ends_on >= ON,
            current_primary(),  # billing claims to the current primary payer
        )
        # One per member, the one this session draws on (as billing picks it): one for the session's
        # service before another, with sessions left before an exhausted one, then the one ending first.
        .ext(distinct_on(a.client_id))
        .order_by(
            a.client_id,
            a.service != SERVICE,
            (a.sessions_used >= a.sessions_authorized),
            a.ends_on,
            a.created_at,
        )
    )


_AUTHORIZATIONS = ShapedStatements(_authorizations_statement)


async def _authorizations(
    session: AsyncSession, params: dict[str, object]
) -> dict[uuid.UUID, AuthorizationLeft]:
    on = params[ON.key]
    assert isinstance(on, date)
    rows = await session.scalars(*_AUTHORIZATIONS.bind((), params))
    found: dict[uuid.UUID, AuthorizationLeft] = {}
    for row in rows:
        left = remaining(row.sessions_authorized, row.sessions_used)
        found[row.client_id] = AuthorizationLeft(
            row.id,
            row.reference,
            row.sessions_authorized,
            row.sessions_used,
            left,
            row.starts_on,
            row.ends_on,
            expiring_soon(left, row.ends_on, on),
        )
    return found


FIRST_DAY = bindparam("v_first_day", type_=Date())
LAST_DAY = bindparam("v_last_day", type_=Date())


def _visit_caps_statement(primary_only: bool) -> Executable:
    # A coverage that took over from an ended one of the same priority (a payer change) counts the
    # visits from the clinic's day of the change: the earlier ones were the other plan's.
    earlier = aliased(ClientCoverage)
    zone = select(ClinicSettings.timezone).where(ClinicSettings.id == 1).scalar_subquery()
    took_over = (
        select(cast(func.max(func.timezone(zone, earlier.ended_at)), Date))
        .where(
            earlier.client_id == ClientCoverage.client_id,
            earlier.priority == ClientCoverage.priority,
            earlier.ended_at.is_not(None),
            earlier.created_at < ClientCoverage.created_at,
        )
        .scalar_subquery()
    )
    used = (
        select(func.count())
        .where(
            BillableEvent.client_id == ClientCoverage.client_id,
            BillableEvent.service_date.between(func.greatest(FIRST_DAY, took_over), LAST_DAY),
        )
        .scalar_subquery()
    )
    stmt = select(ClientCoverage, used.label("used")).where(
        ClientCoverage.client_id == any_(MEMBERS), ClientCoverage.ended_at.is_(None)
    )
    if primary_only:
        stmt = stmt.where(current_primary())
    return stmt.order_by(ClientCoverage.client_id, ClientCoverage.priority)


_VISIT_CAPS = ShapedStatements(_visit_caps_statement)


async def visit_caps(
    session: AsyncSession, ids: list[uuid.UUID], on: date, *, primary_only: bool = True
) -> list[VisitCap]:
    """Coverage caps with the member's billable visits in `on`'s calendar year (one statement).

    A visit is a billable event (a closed session the member attended); a coverage that replaced an
    ended one of its priority (another payer) counts those since the change only.
    """
    first, last = calendar_year(on)
    params = {MEMBERS.key: ids, FIRST_DAY.key: first, LAST_DAY.key: last}
    rows = await session.execute(*_VISIT_CAPS.bind(primary_only, params, primary_only))
    return [VisitCap(c.id, c.client_id, c.priority, c.payer_name, c.visit_cap, used) for c, used in rows]


def _last_group_note_statement(viewer: Viewer, scope: Part2Scope) -> Executable:
    allowed = visible(viewer, Part.GROUP_NOTE, GroupSession.id, None)
    cleared = scope.cleared(Category.NOTES, GroupSession.id, None)
    readable = and_(allowed, cleared)
    return (
        select(
            GroupSession.id,
            GroupSession.starts_at,
            Program.name,
            case((readable, SessionRecord.group_note), else_=null()).label("content"),
            readable.label("readable"),
            and_(allowed, not_(cleared)).label("part2_withheld"),
        )
        .join(SessionRecord, SessionRecord.session_id == GroupSession.id)
        .join(Program, Program.id == GroupSession.program_id)
        .where(
            GroupSession.program_id == PROGRAM_ID,
            GroupSession.starts_at < BEFORE,
            SessionRecord.status == RecordStatus.FINAL,
        )
        .order_by(GroupSession.starts_at.desc(), GroupSession.id.desc())
        .limit(1)
    )


PROGRAM_ID = bindparam("v_program_id", type_=Uuid())
_LAST_GROUP_NOTE = ShapedStatements(_last_group_note_statement)


async def _last_group_note(
    session: AsyncSession,
    viewer: Viewer,
    group_session: GroupSession,
    params: dict[str, object],
    scope: Part2Scope,
) -> EarlierNote | None:
    params = {**params, PROGRAM_ID.key: group_session.program_id}
    statement = _LAST_GROUP_NOTE.bind(viewer_shape(viewer), params, viewer, scope)
    row = (await session.execute(*statement)).one_or_none()
    if row is None:
        return None
    return EarlierNote(
        row.id,
        row.starts_at,
        row.name,
        row.content if row.readable else None,
        not row.readable,
        bool(row.part2_withheld),
    )
