"""42 CFR Part 2 segmentation: Casbin for single objects, and the same rules as SQL for the loaders.

On top of the session record's rules (backend.documentation.access: may this viewer read this part
at all?), Part 2 content needs one of the viewer's Part 2 relations (backend.compliance.part2.segmentation) to
be granted by a p2 rule on `part2_content`. Single objects: `part2_relations_to` + `part2_allowed`.
Lists: `part2_scope` loads the viewer's standing once per read, and its `cleared` (session content)
and `diagnoses_cleared` build SQL whose clauses are chosen by asking Casbin which relations grant
the read, so no Part 2 row leaves the database that Casbin would refuse
(tests/compliance/test_part2_matrix.py holds the two to the same answers).

Loaders use `cleared` to decide between showing content and withholding it with the explicit
Part 2 marker (reason `no_consent`), never a gap that looks like "no data".
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Row,
    Select,
    Uuid,
    all_,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.authorization.enforcer import get_authorizer
from backend.compliance.part2.consent_store import consent_rows, terms_from_rows
from backend.compliance.part2.consents import TPO_PURPOSES, Category, ConsentTerms, Purpose, RecipientKind
from backend.compliance.part2.models import BreakGlassGrant, Consent, ConsentRecipient
from backend.compliance.part2.segmentation import (
    CONSENT_PURPOSES,
    PART2_CONTENT,
    Part2Facts,
    Part2Relation,
    part2_relations,
)
from backend.documentation.access import ANY, IdColumn, Part, Viewer, client_param, staff_param, viewer_params
from backend.enrollment.models import Enrollment, SessionAttendee
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionFacilitator
from backend.staff.models import StaffMember

#: The consent category each part of a session record falls under. Billing codes say which
#: service a member received on a date, as attendance does.
CATEGORY = {
    Part.MEMBER_SECTION: Category.NOTES,
    Part.GROUP_NOTE: Category.NOTES,
    Part.ATTENDANCE: Category.ATTENDANCE,
    Part.BILLING_CODES: Category.ATTENDANCE,
}


def part2_granting(viewer: Viewer) -> frozenset[str]:
    """The Part 2 relations (or "any") under which the viewer's roles may read Part 2 content."""
    authorizer = get_authorizer()
    return frozenset(
        r for r in (ANY, *Part2Relation) if authorizer.allowed_as(viewer.roles, PART2_CONTENT, "read", r)
    )


def part2_allowed(viewer: Viewer, relations: frozenset[Part2Relation] | None) -> bool:
    """Casbin's answer for one object; `relations` None: the object is not Part 2 content."""
    if relations is None:
        return True
    authorizer = get_authorizer()
    return any(authorizer.allowed_as(viewer.roles, PART2_CONTENT, "read", r) for r in (ANY, *relations))


# -- the facts, for single objects ----------------------------------------------------------


@lru_cache(maxsize=1)
def _facts_statement() -> Select[Any]:
    """The viewer's programs and live grants as two arrays on every consent row of the members. Built
    once with bound parameters: building and keying a statement this size costs about a millisecond,
    more than running it."""
    staff_id = bindparam("staff_id", type_=Uuid())
    at = bindparam("at", type_=DateTime(timezone=True))
    members = bindparam("members", type_=Uuid(), expanding=True)
    viewer_side = select(
        func.array(viewer_programs(staff_id).scalar_subquery()).label("programs"),
        func.array(
            _granted(staff_id, at).where(BreakGlassGrant.client_id.in_(members)).scalar_subquery()
        ).label("grants"),
    ).subquery("viewer_side")
    consents = consent_rows(members).subquery("member_consents")
    return (
        select(viewer_side, consents)
        .select_from(viewer_side.outerjoin(consents, true()))
        .order_by(consents.c.starts_at.desc(), consents.c.id)
    )


async def part2_facts(
    session: AsyncSession, viewer: Viewer, members: Sequence[uuid.UUID], at: datetime
) -> Part2Facts:
    """The viewer's programs and live grants, and the members' consents, in one statement (a roster
    pays one round trip)."""
    params = {"staff_id": viewer.staff_id, "at": at, "members": list(members)}
    rows = (await session.execute(_facts_statement(), params)).all()
    by_member: dict[uuid.UUID, list[ConsentTerms]] = defaultdict(list)
    for terms in terms_from_rows(rows):
        by_member[terms.client_id].append(terms)
    has_staff = viewer.staff_id is not None
    return Part2Facts(
        at=at,
        staff_id=viewer.staff_id,
        client_id=viewer.client_id,
        programs=frozenset(rows[0].programs) if has_staff else frozenset(),
        consents={k: tuple(v) for k, v in by_member.items()},
        break_glass=frozenset(rows[0].grants) if has_staff else frozenset(),
    )


async def part2_relations_to(
    session: AsyncSession,
    viewer: Viewer,
    session_id: uuid.UUID,
    client_id: uuid.UUID | None,
    category: Category,
    at: datetime,
) -> frozenset[Part2Relation] | None:
    """The viewer's Part 2 relations to a session's content about a member (or, with `client_id`
    None, about any attendee, as for the group note); None when the session is not Part 2."""
    program_id = await session.scalar(
        select(GroupSession.program_id)
        .join(Program, Program.id == GroupSession.program_id)
        .where(GroupSession.id == session_id, Program.part2.is_(True))
    )
    if program_id is None:
        return None
    members = (
        [client_id]
        if client_id is not None
        else list(
            await session.scalars(
                select(SessionAttendee.client_id).where(SessionAttendee.session_id == session_id)
            )
        )
    )
    facts = await part2_facts(session, viewer, members, at)
    return part2_relations(facts, [program_id], members, category)


async def member_part2_programs(
    session: AsyncSession, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """The Part 2 programs each member is or was enrolled in or attended a session of."""
    return _by_member(await session.execute(_part2_programs_of(client_ids)))


async def diagnosis_relations_to(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, at: datetime
) -> frozenset[Part2Relation] | None:
    """The viewer's Part 2 relations to the member's SUD diagnoses; None when no Part 2 program treats
    the member (their SUD diagnoses are then not Part 2 records)."""
    made_by = (await member_part2_programs(session, [client_id])).get(client_id)
    if not made_by:
        return None
    facts = await part2_facts(session, viewer, [client_id], at)
    return part2_relations(facts, made_by, [client_id], Category.DIAGNOSES)


# -- the same rules as SQL, for lists -------------------------------------------------------

# Aliases of their own for every subquery, so none correlates with a loader's tables or with the
# subquery it is nested in; built once (an alias's column collection costs about a millisecond).
_SUPERVISEE = StaffMember.__table__.alias("p2_supervisee")
_OWN_PROGRAM = Program.__table__.alias("p2_own_program")
_OWN_SESSION = GroupSession.__table__.alias("p2_own_session")
_OWN_FACILITATOR = SessionFacilitator.__table__.alias("p2_own_facilitator")
_P2_SESSION = GroupSession.__table__.alias("p2_session")
_P2_SESSION_PROGRAM = Program.__table__.alias("p2_session_program")
_P2_ENROLLMENT = Enrollment.__table__.alias("p2_enrollment")
_P2_ENROLLED_PROGRAM = Program.__table__.alias("p2_enrolled_program")
_P2_ATTENDEE = SessionAttendee.__table__.alias("p2_attendee")
_P2_ATTENDED_SESSION = GroupSession.__table__.alias("p2_attended_session")
_P2_ATTENDED_PROGRAM = Program.__table__.alias("p2_attended_program")
_CONSENT = Consent.__table__.alias("p2_consent")
_RECIPIENT = ConsentRecipient.__table__.alias("p2_recipient")
_GROUP_ATTENDEE = SessionAttendee.__table__.alias("p2_group_attendee")


#: A staff id as a value, or as a bound parameter of a statement built once (`_facts_statement`).
StaffId = uuid.UUID | None | BindParameter[uuid.UUID]


def _staff_scope(staff_id: StaffId, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """The viewer's staff record, or one they supervise."""
    staff = _SUPERVISEE
    supervised = select(staff.c.id).where(staff.c.supervisor_id == staff_id)
    return or_(column == staff_id, column.in_(supervised))


def viewer_programs(staff_id: StaffId) -> CompoundSelect[uuid.UUID]:
    """Programs the viewer (or one they supervise) leads, co-leads, substitutes in or facilitates."""
    program = _OWN_PROGRAM
    led = select(program.c.id).where(
        or_(
            _staff_scope(staff_id, program.c.lead_facilitator_id),
            _staff_scope(staff_id, program.c.cofacilitator_id),
            _staff_scope(staff_id, program.c.substitute_id),
        )
    )
    gs, facilitator = _OWN_SESSION, _OWN_FACILITATOR
    facilitated = (
        select(gs.c.program_id)
        .join(facilitator, facilitator.c.session_id == gs.c.id)
        .where(_staff_scope(staff_id, facilitator.c.staff_id), gs.c.program_id.is_not(None))
    )
    return union(led, facilitated)


def _enrolled_or_attended() -> tuple[Select[uuid.UUID, uuid.UUID], Select[uuid.UUID, uuid.UUID]]:
    """(member, program) for each Part 2 program a member is or was enrolled in, and attended."""
    enrollment, program = _P2_ENROLLMENT, _P2_ENROLLED_PROGRAM
    attendee, gs, program2 = _P2_ATTENDEE, _P2_ATTENDED_SESSION, _P2_ATTENDED_PROGRAM
    enrolled = (
        select(enrollment.c.client_id, enrollment.c.program_id)
        .join(program, program.c.id == enrollment.c.program_id)
        .where(program.c.part2.is_(True))
    )
    attended = (
        select(attendee.c.client_id, gs.c.program_id)
        .join(gs, gs.c.id == attendee.c.session_id)
        .join(program2, program2.c.id == gs.c.program_id)
        .where(program2.c.part2.is_(True))
    )
    return enrolled, attended


def _part2_programs_of(client_ids: Sequence[uuid.UUID]) -> CompoundSelect[uuid.UUID, uuid.UUID]:
    enrolled, attended = _enrolled_or_attended()
    return union(
        enrolled.where(enrolled.selected_columns[0].in_(client_ids)),
        attended.where(attended.selected_columns[0].in_(client_ids)),
    )


def _treated_by_part2(client_id: IdColumn, programs: BindParameter[Any] | None = None) -> ColumnElement[bool]:
    """SQL: a Part 2 program (one of `programs`, when given) treats the member."""
    clauses = []
    for stmt in _enrolled_or_attended():
        member, program = stmt.selected_columns
        condition = [member == client_id] + ([program == any_(programs)] if programs is not None else [])
        clauses.append(exists(stmt.where(*condition)))
    return or_(*clauses)


def _granted(staff_id: StaffId, at: datetime | BindParameter[datetime]) -> Select[uuid.UUID]:
    """Members for whom the viewer holds a break-the-glass grant live at `at`."""
    return select(BreakGlassGrant.client_id).where(
        BreakGlassGrant.staff_id == staff_id,
        BreakGlassGrant.granted_at <= at,
        BreakGlassGrant.expires_at > at,
    )


@lru_cache(maxsize=1)
def _scope_statement() -> Select[Any]:
    """The viewer's programs and all their live grants, as two arrays (built once, bound per use)."""
    staff_id = bindparam("staff_id", type_=Uuid())
    at = bindparam("at", type_=DateTime(timezone=True))
    return select(
        func.array(viewer_programs(staff_id).scalar_subquery()).label("programs"),
        func.array(_granted(staff_id, at).scalar_subquery()).label("grants"),
    )


def _uuid_array(name: str, values: frozenset[uuid.UUID]) -> BindParameter[Any]:
    return bindparam(name, sorted(values), type_=ARRAY(Uuid()))


#: The scope's bound parameters (with the viewer's: backend.documentation.access.viewer_params).
AT_PARAM = "v_at"
PROGRAMS_PARAM = "v_programs"
BREAK_GLASS_PARAM = "v_break_glass"


@dataclass(frozen=True)
class Part2Scope:
    """A viewer's Part 2 standing at one instant, loaded once per read, that writes the loaders' SQL.

    The programs the viewer works in and their live break-the-glass grants are loaded values (the
    same statement parts `part2_facts` loads for single objects); the Part 2 labels of sessions and
    diagnoses and the consents are evaluated in the SQL, the twin of `covering_consent`.
    """

    viewer: Viewer
    at: datetime
    #: Relations (or "any") under which the viewer's roles may read Part 2 content (Casbin).
    grants: frozenset[str]
    programs: frozenset[uuid.UUID] = frozenset()
    break_glass: frozenset[uuid.UUID] = frozenset()

    def params(self) -> dict[str, object]:
        """The bound values of the SQL this scope writes (the viewer's own included)."""
        return {
            **viewer_params(self.viewer),
            AT_PARAM: self.at,
            PROGRAMS_PARAM: sorted(self.programs),
            BREAK_GLASS_PARAM: sorted(self.break_glass),
        }

    def cleared(
        self, category: Category, session_id: IdColumn, client_id: IdColumn | None
    ) -> ColumnElement[bool]:
        """SQL: the session's content (about the member, or with `client_id` None about any attendee)
        is not Part 2, or the viewer may read it. Combine with `visible` for the session record rule."""
        if ANY in self.grants:
            return true()
        gs, program = _P2_SESSION, _P2_SESSION_PROGRAM
        # Sessions of Part 2 programs the viewer does not work in: only these need a member relation.
        foreign = (
            select(gs.c.id).join(program, program.c.id == gs.c.program_id).where(program.c.part2.is_(True))
        )
        if Part2Relation.PROGRAM in self.grants:
            foreign = foreign.where(program.c.id != all_(self._programs()))
        clauses: list[ColumnElement[bool]] = [session_id.not_in(foreign)]
        if client_id is None:
            attendee = _GROUP_ATTENDEE
            member = self._member_clauses(category, attendee.c.client_id)
            if member:
                clauses.append(exists().where(attendee.c.session_id == session_id, or_(*member)))
        else:
            clauses += self._member_clauses(category, client_id)
        return or_(*clauses)

    def diagnoses_cleared(self, client_id: IdColumn) -> ColumnElement[bool]:
        """SQL: the member's SUD diagnoses are not Part 2 (no Part 2 program treats them), or the viewer
        may read them: working in one of the member's Part 2 programs, a grant, or a consent."""
        if ANY in self.grants:
            return true()
        clauses: list[ColumnElement[bool]] = [~_treated_by_part2(client_id)]
        if Part2Relation.PROGRAM in self.grants:
            clauses.append(_treated_by_part2(client_id, self._programs()))
        clauses += self._member_clauses(Category.DIAGNOSES, client_id)
        return or_(*clauses)

    def _programs(self) -> BindParameter[Any]:
        return _uuid_array(PROGRAMS_PARAM, self.programs)

    def _member_clauses(self, category: Category, client_id: IdColumn) -> list[ColumnElement[bool]]:
        """Being the member, holding a grant for them, or a consent of theirs covering the viewer."""
        viewer = self.viewer
        clauses: list[ColumnElement[bool]] = []
        if Part2Relation.SELF in self.grants and viewer.client_id is not None:
            clauses.append(client_id == client_param(viewer))
        if viewer.staff_id is None:
            return clauses
        if Part2Relation.BREAK_GLASS in self.grants:
            clauses.append(client_id == any_(_uuid_array(BREAK_GLASS_PARAM, self.break_glass)))
        for relation, purpose in CONSENT_PURPOSES.items():
            if relation in self.grants:
                clauses.append(client_id.in_(self._consenting(purpose, category)))
        return clauses

    def _consenting(self, purpose: Purpose, category: Category) -> Select[uuid.UUID]:
        """Members with a consent active at `at` covering the viewer for `purpose` and `category`: the
        SQL twin of `covering_consent` over the viewer's recipients (`Part2Facts.recipients`)."""
        consent, recipient = _CONSENT, _RECIPIENT
        at = bindparam(AT_PARAM, self.at, type_=DateTime(timezone=True))
        named = [
            and_(
                recipient.c.kind == RecipientKind.PERSON, recipient.c.recipient_id == staff_param(self.viewer)
            ),
            and_(
                recipient.c.kind == RecipientKind.PROGRAM, recipient.c.recipient_id == any_(self._programs())
            ),
        ]
        if purpose in TPO_PURPOSES:
            named.append(recipient.c.kind == RecipientKind.TPO)
        return (
            select(consent.c.client_id)
            .join(recipient, recipient.c.consent_id == consent.c.id)
            .where(
                consent.c.revoked_at.is_(None),
                consent.c.starts_at <= at,
                or_(consent.c.ends_at.is_(None), consent.c.ends_at > at),
                or_(consent.c.end_event_recorded_at.is_(None), consent.c.end_event_recorded_at > at),
                consent.c.purposes.contains([purpose.value]),
                consent.c.categories.overlap([category.value, Category.ALL.value]),
                or_(*named),
            )
        )


async def part2_scope(session: AsyncSession, viewer: Viewer, at: datetime) -> Part2Scope:
    """The viewer's Part 2 standing at `at`: one statement, none when their roles need no facts."""
    grants = part2_granting(viewer)
    needs_facts = bool(grants - {ANY, Part2Relation.SELF}) and ANY not in grants
    if viewer.staff_id is None or not needs_facts:
        return Part2Scope(viewer, at, grants)
    row = (await session.execute(_scope_statement(), {"staff_id": viewer.staff_id, "at": at})).one()
    return Part2Scope(viewer, at, grants, frozenset(row.programs), frozenset(row.grants))


def member_part2_programs_sync(
    session: Session, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """`member_part2_programs` for sync callers (the claim engine)."""
    return _by_member(session.execute(_part2_programs_of(client_ids)))


def _by_member(rows: Iterable[Row[uuid.UUID, uuid.UUID]]) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    found: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for client_id, program_id in rows:
        found[client_id].add(program_id)
    return {k: frozenset(v) for k, v in found.items()}
