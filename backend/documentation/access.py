"""Who may see which part of a session record: relationships, Casbin, and the loaders' SQL.

A caller's relationship to a member's section is computed from the clinic's data:

| relation    | holds when the caller's staff record...                                          |
|-------------|----------------------------------------------------------------------------------|
| facilitator | facilitates the session                                                          |
| treating    | is on the member's care team (for the group note: on any attendee's care team)   |
| supervising | supervises (staff.supervisor_id) a facilitator of the session or a treating one  |
| self        | (a client signed in on mobile) is the member                                     |

Casbin's p2 rules (backend/authorization/policy.csv) say which roles may read or write what
under which relation. Single objects are checked with `relations_to` + Casbin; lists are filtered
in SQL by `visible`, whose clauses are chosen by asking Casbin which relations grant the action,
so no row leaves the database that Casbin would refuse (tests/documentation/test_privacy_matrix.py).

The viewer's own values enter the SQL as named bound parameters (`viewer_params`), so a clause's
shape depends only on the viewer's roles and on which of staff and client they are: a loader can
build its statement once per shape (backend.documentation.shapes) and bind each viewer's values.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Uuid,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from backend.authorization.enforcer import get_authorizer
from backend.documentation.shapes import SESSION_ID
from backend.enrollment.models import SessionAttendee
from backend.scheduling.models import SessionFacilitator
from backend.staff.models import StaffMember
from backend.treatment.models import CareTeamMember


class Relation(enum.StrEnum):
    FACILITATOR = "facilitator"
    TREATING = "treating"
    SUPERVISING = "supervising"
    SELF = "self"


class Part(enum.StrEnum):
    """The parts of a record, as Casbin resources."""

    MEMBER_SECTION = "member_section"
    GROUP_NOTE = "group_note"
    ATTENDANCE = "attendance"
    BILLING_CODES = "billing_codes"


ANY = "any"
#: A uuid column of a table or of an ORM entity (the loaders filter both).
IdColumn = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class Viewer:
    """The caller as the record sees them: roles, their staff record, the client they are (mobile)."""

    roles: tuple[str, ...]
    staff_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


#: The names of the viewer's bound parameters (every per-call value a shaped statement binds starts
#: with "v_": backend.documentation.shapes refuses to run one without all of them).
STAFF_PARAM = "v_staff_id"
CLIENT_PARAM = "v_client_id"


def viewer_params(viewer: Viewer) -> dict[str, object]:
    return {STAFF_PARAM: viewer.staff_id, CLIENT_PARAM: viewer.client_id}


def viewer_shape(viewer: Viewer) -> tuple[object, ...]:
    """What the SQL of `visible` (and of Part 2's `cleared`) depends on besides bound values."""
    return (viewer.roles, viewer.staff_id is None, viewer.client_id is None)


def staff_param(viewer: Viewer) -> BindParameter[uuid.UUID]:
    return bindparam(STAFF_PARAM, viewer.staff_id, type_=Uuid())


def client_param(viewer: Viewer) -> BindParameter[uuid.UUID]:
    return bindparam(CLIENT_PARAM, viewer.client_id, type_=Uuid())


def granting(viewer: Viewer, part: Part, action: str) -> frozenset[str]:
    """The relations (or "any") under which the viewer's roles may do the action on the part."""
    authorizer = get_authorizer()
    candidates = [ANY, *Relation]
    return frozenset(r for r in candidates if authorizer.allowed_as(viewer.roles, part, action, r))


def allowed(viewer: Viewer, part: Part, action: str, relations: frozenset[Relation]) -> bool:
    """Casbin's answer for one object, given the viewer's relations to it."""
    authorizer = get_authorizer()
    return any(authorizer.allowed_as(viewer.roles, part, action, r) for r in (ANY, *relations))


def _relations_statement(whole_group: bool) -> Executable:
    """The session's members (the given one, or with `whole_group` every attendee), its facilitators,
    the members' treating staff and the viewer's supervisees, as four arrays in one statement."""
    if whole_group:
        members = select(SessionAttendee.client_id).where(SessionAttendee.session_id == SESSION_ID)
    else:
        members = select(bindparam("v_member_id", type_=Uuid()))
    return select(
        func.array(members.scalar_subquery()).label("members"),
        func.array(
            select(SessionFacilitator.staff_id)
            .where(SessionFacilitator.session_id == SESSION_ID)
            .scalar_subquery()
        ).label("facilitators"),
        func.array(
            select(CareTeamMember.staff_id).where(CareTeamMember.client_id.in_(members)).scalar_subquery()
        ).label("treating"),
        func.array(
            select(StaffMember.id)
            .where(StaffMember.supervisor_id == bindparam(STAFF_PARAM, type_=Uuid()))
            .scalar_subquery()
        ).label("supervised"),
    )


_RELATIONS = {whole_group: _relations_statement(whole_group) for whole_group in (False, True)}


async def relations_to(
    session: AsyncSession, viewer: Viewer, session_id: uuid.UUID, client_id: uuid.UUID | None
) -> frozenset[Relation]:
    """The viewer's relations to a member's section (`client_id`) or to the group note (None): for the
    group note, a relation to any attendee counts, as in `visible`. One statement."""
    params = {SESSION_ID.key: session_id, "v_member_id": client_id, STAFF_PARAM: viewer.staff_id}
    row = (await session.execute(_RELATIONS[client_id is None], params)).one()
    found: set[Relation] = set()
    if viewer.client_id is not None and viewer.client_id in row.members:
        found.add(Relation.SELF)
    if viewer.staff_id is None:
        return frozenset(found)
    facilitators, treating = set(row.facilitators), set(row.treating)
    if viewer.staff_id in facilitators:
        found.add(Relation.FACILITATOR)
    if viewer.staff_id in treating:
        found.add(Relation.TREATING)
    if set(row.supervised) & (facilitators | treating):
        found.add(Relation.SUPERVISING)
    return frozenset(found)


def visible(
    viewer: Viewer,
    part: Part,
    session_id: IdColumn,
    client_id: IdColumn | None,
    action: str = "read",
) -> ColumnElement[bool]:
    """SQL: the rows (of a session, and of a member unless `client_id` is None) the viewer may see.

    With `client_id` None the object is the session's shared part (the group note): a relation to
    any attendee of the session counts, as the group note lands on every attendee's record.
    """
    grants = granting(viewer, part, action)
    if ANY in grants:
        return true()
    clauses = _session_clauses(viewer, grants, session_id)
    if client_id is None:
        attendee = SessionAttendee.__table__.alias("related_attendee")
        member = _member_clauses(viewer, grants, attendee.c.client_id)
        if member:
            clauses.append(exists().where(attendee.c.session_id == session_id, or_(*member)))
    else:
        clauses += _member_clauses(viewer, grants, client_id)
    return or_(*clauses) if clauses else false()


def _session_clauses(
    viewer: Viewer, grants: frozenset[str], session_id: IdColumn
) -> list[ColumnElement[bool]]:
    """Facilitating the session, or supervising one who does."""
    if viewer.staff_id is None:
        return []
    clauses: list[ColumnElement[bool]] = []
    if Relation.FACILITATOR in grants:
        facilitated = select(SessionFacilitator.session_id).where(
            SessionFacilitator.staff_id == staff_param(viewer)
        )
        clauses.append(session_id.in_(facilitated))
    if Relation.SUPERVISING in grants:
        supervisees = select(StaffMember.id).where(StaffMember.supervisor_id == staff_param(viewer))
        by_supervisee = select(SessionFacilitator.session_id).where(
            SessionFacilitator.staff_id.in_(supervisees)
        )
        clauses.append(session_id.in_(by_supervisee))
    return clauses


def _member_clauses(viewer: Viewer, grants: frozenset[str], client_id: IdColumn) -> list[ColumnElement[bool]]:
    """Being the member, treating them, or supervising one who treats them."""
    clauses: list[ColumnElement[bool]] = []
    if Relation.SELF in grants and viewer.client_id is not None:
        clauses.append(client_id == client_param(viewer))
    if viewer.staff_id is None:
        return clauses
    if Relation.TREATING in grants:
        treated = select(CareTeamMember.client_id).where(CareTeamMember.staff_id == staff_param(viewer))
        clauses.append(client_id.in_(treated))
    if Relation.SUPERVISING in grants:
        supervisees = select(StaffMember.id).where(StaffMember.supervisor_id == staff_param(viewer))
        treated_by_supervisee = select(CareTeamMember.client_id).where(
            CareTeamMember.staff_id.in_(supervisees)
        )
        clauses.append(client_id.in_(treated_by_supervisee))
    return clauses
