"""Reading and writing treatment plans, care teams and supervisors in the caller's clinic schema.

Every write raises `InputRejected` naming the input field (code `not_found` for an id that names no
record, so the GraphQL layer can answer NotFound); the rules themselves live in `backend.treatment.rules`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clients.models import Client
from backend.clinic.store import clinic_today
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import Program
from backend.staff.models import StaffMember
from backend.staff.store import lock_staff
from backend.treatment.models import CareTeamMember, GoalStatus, PlanStatus, TreatmentGoal, TreatmentPlan
from backend.treatment.rules import (
    GoalDraft,
    PlanDraft,
    goal_count_problems,
    goal_problems,
    goal_status_problems,
    normalized_goal,
    plan_change_problems,
    plan_problems,
    supervisor_problems,
)


def _not_found(field: str) -> InputRejected:
    return InputRejected([FieldProblem(field, "not_found", "does not name a record in this clinic")])


def _inactive(field: str) -> InputRejected:
    return InputRejected([FieldProblem(field, "inactive", "is no longer an active staff member")])


async def _require_client(session: AsyncSession, client_id: uuid.UUID) -> None:
    if await session.get(Client, client_id) is None:
        raise _not_found("clientId")


# -- plans and goals --------------------------------------------------------------------------------


async def create_plan(
    session: AsyncSession,
    client_id: uuid.UUID,
    modality: str,
    starts_on: date,
    goals: Sequence[GoalDraft],
    *,
    program_id: uuid.UUID | None = None,
    review_on: date | None = None,
    created_by: uuid.UUID | None = None,
) -> TreatmentPlan:
    """An active plan for the client with its goals in the order given."""
    await _require_client(session, client_id)
    program_modality = None
    if program_id is not None:
        program = await session.get(Program, program_id)
        if program is None:
            raise _not_found("programId")
        program_modality = program.modality.value
    draft = PlanDraft(modality, starts_on, review_on, tuple(normalized_goal(g) for g in goals))
    if problems := plan_problems(draft, program_modality):
        raise InputRejected(problems)
    plan = TreatmentPlan(
        id=uuid.uuid4(),
        client_id=client_id,
        modality=modality,
        program_id=program_id,
        status=PlanStatus.ACTIVE,
        starts_on=starts_on,
        review_on=review_on,
        created_by=created_by,
    )
    session.add(plan)
    await session.flush()
    session.add_all(_goal_row(plan.id, goal, position) for position, goal in enumerate(draft.goals))
    await session.flush()
    return plan


def _goal_row(plan_id: uuid.UUID, goal: GoalDraft, position: int) -> TreatmentGoal:
    return TreatmentGoal(
        id=uuid.uuid4(),
        plan_id=plan_id,
        description=goal.description,
        target=goal.target,
        target_date=goal.target_date,
        status=GoalStatus.ACTIVE,
        position=position,
    )


async def _lock_plan(session: AsyncSession, plan_id: uuid.UUID) -> TreatmentPlan:
    # Locked so two goals added at once are counted and numbered one after the other.
    stmt = select(TreatmentPlan).where(TreatmentPlan.id == plan_id).with_for_update()
    plan = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if plan is None:
        raise _not_found("planId")
    return plan


async def add_goal(session: AsyncSession, plan_id: uuid.UUID, goal: GoalDraft) -> TreatmentGoal:
    """Append an active goal to an active plan (problems are named `goal.<field>`)."""
    plan = await _lock_plan(session, plan_id)
    goal = normalized_goal(goal)
    count, last = (
        await session.execute(
            select(func.count(), func.max(TreatmentGoal.position)).where(TreatmentGoal.plan_id == plan_id)
        )
    ).one()
    problems = plan_change_problems(plan.status, "planId")
    problems += goal_count_problems(count, 1, "planId")
    problems += goal_problems(goal, plan.starts_on, "goal")
    if problems:
        raise InputRejected(problems)
    row = _goal_row(plan_id, goal, 0 if last is None else last + 1)
    session.add(row)
    await session.flush()
    return row


async def set_goal_status(session: AsyncSession, goal_id: uuid.UUID, status: GoalStatus) -> TreatmentGoal:
    """Mark a goal met or discontinued, or resume it (see the table in backend.treatment.rules)."""
    stmt = select(TreatmentGoal).where(TreatmentGoal.id == goal_id).with_for_update()
    goal = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if goal is None:
        raise _not_found("goalId")
    plan = await session.get_one(TreatmentPlan, goal.plan_id)
    if problems := goal_status_problems(plan.status, goal.status, status, "goalId"):
        raise InputRejected(problems)
    goal.status = status
    await session.flush()
    return goal


async def close_plan(session: AsyncSession, plan_id: uuid.UUID) -> TreatmentPlan:
    """Close the plan (closing a closed plan changes nothing); its goals are no longer rated."""
    plan = await _lock_plan(session, plan_id)
    plan.status = PlanStatus.CLOSED
    await session.flush()
    return plan


async def plans_of(session: AsyncSession, client_id: uuid.UUID) -> list[TreatmentPlan]:
    """The client's plans, active ones first, newest first."""
    stmt = (
        select(TreatmentPlan)
        .where(TreatmentPlan.client_id == client_id)
        .order_by(
            (TreatmentPlan.status == PlanStatus.ACTIVE).desc(),
            TreatmentPlan.starts_on.desc(),
            TreatmentPlan.created_at.desc(),
            TreatmentPlan.id,
        )
    )
    return list(await session.scalars(stmt))


async def goals_of(
    session: AsyncSession, plan_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[TreatmentGoal]]:
    """Each plan's goals in plan order."""
    found: dict[uuid.UUID, list[TreatmentGoal]] = defaultdict(list)
    if plan_ids:
        stmt = (
            select(TreatmentGoal)
            .where(TreatmentGoal.plan_id.in_(plan_ids))
            .order_by(TreatmentGoal.plan_id, TreatmentGoal.position)
        )
        for goal in await session.scalars(stmt):
            found[goal.plan_id].append(goal)
    return found


async def active_goal_ids(
    session: AsyncSession, client_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    """Each client's active goals of active plans, as the id strings goal-progress content stores.

    Every requested client is a key (an empty set when they have none), so a member section rating
    any goal of a client without a plan is caught by the same set difference.
    """
    found: dict[uuid.UUID, set[str]] = {c: set() for c in client_ids}
    if client_ids:
        stmt = (
            select(TreatmentPlan.client_id, TreatmentGoal.id)
            .join(TreatmentGoal, TreatmentGoal.plan_id == TreatmentPlan.id)
            .where(
                TreatmentPlan.client_id.in_(client_ids),
                TreatmentPlan.status == PlanStatus.ACTIVE,
                TreatmentGoal.status == GoalStatus.ACTIVE,
            )
        )
        for client_id, goal_id in await session.execute(stmt):
            found[client_id].add(str(goal_id))
    return found


# -- care teams and supervisors ---------------------------------------------------------------------


async def _require_active_staff(session: AsyncSession, staff_id: uuid.UUID, field: str) -> StaffMember:
    staff = await session.get(StaffMember, staff_id)
    if staff is None:
        raise _not_found(field)
    if not staff.active:
        raise _inactive(field)
    return staff


async def add_care_team_member(
    session: AsyncSession, client_id: uuid.UUID, staff_id: uuid.UUID, since: date | None = None
) -> None:
    """Make an active staff member one of the client's treating clinicians (adding twice keeps the first)."""
    await _require_client(session, client_id)
    await _require_active_staff(session, staff_id, "staffId")
    await session.execute(
        insert(CareTeamMember)
        .values(client_id=client_id, staff_id=staff_id, since=since or await clinic_today(session))
        .on_conflict_do_nothing(index_elements=[CareTeamMember.client_id, CareTeamMember.staff_id])
    )


async def remove_care_team_member(session: AsyncSession, client_id: uuid.UUID, staff_id: uuid.UUID) -> None:
    await _require_client(session, client_id)
    removed = await session.execute(
        delete(CareTeamMember)
        .where(CareTeamMember.client_id == client_id, CareTeamMember.staff_id == staff_id)
        .returning(CareTeamMember.staff_id)
    )
    if removed.first() is None:
        raise _not_found("staffId")


async def care_team(session: AsyncSession, client_id: uuid.UUID) -> list[tuple[CareTeamMember, StaffMember]]:
    """The client's treating clinicians, longest on the team first."""
    stmt = (
        select(CareTeamMember, StaffMember)
        .join(StaffMember, StaffMember.id == CareTeamMember.staff_id)
        .where(CareTeamMember.client_id == client_id)
        .order_by(CareTeamMember.since, StaffMember.display_name, StaffMember.id)
    )
    return [(member, staff) for member, staff in await session.execute(stmt)]


async def set_supervisor(
    session: AsyncSession, staff_id: uuid.UUID, supervisor_id: uuid.UUID | None
) -> StaffMember:
    """Name (or, with None, clear) the staff member's supervisor: an active staff member, never a loop.

    Both rows are locked in id order first, so two requests naming each other's supervisor at once
    run one after the other and the second sees the loop.
    """
    locked = await lock_staff(session, [staff_id] if supervisor_id is None else [staff_id, supervisor_id])
    staff = locked.get(staff_id)
    if staff is None:
        raise _not_found("staffId")
    if supervisor_id is not None:
        supervisor = locked.get(supervisor_id)
        if supervisor is None:
            raise _not_found("supervisorId")
        if not supervisor.active:
            raise _inactive("supervisorId")
        pairs = await session.execute(select(StaffMember.id, StaffMember.supervisor_id))
        chain = {member: boss for member, boss in pairs}
        if problems := supervisor_problems(staff_id, supervisor_id, chain):
            raise InputRejected(problems)
    staff.supervisor_id = supervisor_id
    await session.flush()
    return staff
