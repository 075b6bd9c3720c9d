"""Does a user have a care relationship with a member? The question behind the compliance officer's
"access outside a care relationship" report (HIPAA minimum necessary, 45 CFR 164.502(b)).

A user U has a care relationship with member M in a clinic when U's staff record (staff.user_id)

| relation    | holds when U's staff record...                                                  |
|-------------|---------------------------------------------------------------------------------|
| facilitator | facilitates (or covers) a session M is on the roster of                         |
| treating    | is on M's care team                                                             |
| supervising | supervises (staff.supervisor_id) a staff member who facilitates or treats M     |

or U is M (a client signed in on mobile, `memberships.client_id`). These are the relations of
`backend.documentation.access` turned from "this session" to "any session", asked for many
(user, member) pairs in one statement, so sealing a batch of audit events costs one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, column, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from backend.enrollment.models import SessionAttendee
from backend.identity.models import Membership
from backend.scheduling.models import SessionFacilitator
from backend.staff.models import StaffMember
from backend.treatment.models import CareTeamMember

Pair = tuple[uuid.UUID, uuid.UUID]
"""(user id, member id)"""


def _supervisees(staff: type[StaffMember]) -> Select[uuid.UUID]:
    supervisee = aliased(StaffMember, name="supervised_staff")
    return select(supervisee.id).where(supervisee.supervisor_id == staff.id).correlate_except(supervisee)


def related_clause(
    user_id: ColumnElement[uuid.UUID], member_id: ColumnElement[uuid.UUID], tenant_id: uuid.UUID
) -> ColumnElement[bool]:
    """SQL: the user (column or value) has a care relationship with the member (column or value).

    The subqueries correlate explicitly (`correlate_except`): nested two deep, automatic
    correlation would give each its own copy of the outer tables and answer for any pair.
    """
    staff = aliased(StaffMember, name="caring_staff")
    # The user's staff record, or a staff member they supervise, treats or facilitates the member.
    by_staff = _supervisees(staff)
    treats = (
        select(CareTeamMember.staff_id)
        .where(
            CareTeamMember.client_id == member_id,
            or_(CareTeamMember.staff_id == staff.id, CareTeamMember.staff_id.in_(by_staff)),
        )
        .correlate_except(CareTeamMember)
        .exists()
    )
    facilitates = (
        select(SessionFacilitator.staff_id)
        .join(SessionAttendee, SessionAttendee.session_id == SessionFacilitator.session_id)
        .where(
            SessionAttendee.client_id == member_id,
            or_(
                SessionFacilitator.staff_id == staff.id, SessionFacilitator.staff_id.in_(_supervisees(staff))
            ),
        )
        .correlate_except(SessionFacilitator, SessionAttendee)
        .exists()
    )
    as_staff = (
        select(staff.id)
        .where(staff.user_id == user_id, or_(treats, facilitates))
        .correlate_except(staff)
        .exists()
    )
    as_self = (
        select(Membership.id)
        .where(
            Membership.user_id == user_id,
            Membership.tenant_id == tenant_id,
            Membership.client_id == member_id,
        )
        .correlate_except(Membership)
        .exists()
    )
    return or_(as_staff, as_self)


def _related_pairs_query(pairs: list[Pair], tenant_id: uuid.UUID) -> Select[Any]:
    # Two array parameters (one statement text for any batch) rather than a VALUES list of pairs.
    users = bindparam("asked_users", [u for u, _ in pairs], type_=ARRAY(Uuid))
    members = bindparam("asked_members", [m for _, m in pairs], type_=ARRAY(Uuid))
    asked = (
        func.unnest(users, members)
        .table_valued(column("user_id", Uuid), column("member_id", Uuid))
        .render_derived(name="asked_pairs")
    )
    return select(asked.c.user_id, asked.c.member_id).where(
        related_clause(asked.c.user_id, asked.c.member_id, tenant_id)
    )


def related_pairs(session: Session, pairs: Iterable[Pair], tenant_id: uuid.UUID) -> set[Pair]:
    """The pairs (user, member) with a care relationship, in one statement (sync)."""
    asked = sorted(set(pairs))
    if not asked:
        return set()
    rows = session.execute(_related_pairs_query(asked, tenant_id)).all()
    return {(row[0], row[1]) for row in rows}


async def has_care_relationship(
    session: AsyncSession, user_id: uuid.UUID, member_id: uuid.UUID, tenant_id: uuid.UUID
) -> bool:
    """Whether this user has a care relationship with this member now (async)."""
    found = await session.execute(_related_pairs_query([(user_id, member_id)], tenant_id))
    return found.first() is not None
