"""Treatment plans, care teams and supervisors through GraphQL.

Plans name the group modality and list goals with measurable targets; member sections rate progress
toward the member's active goals (ids as `TreatmentGoal.id`). Care team members are the clinicians
treating a client; a supervisor co-signs a trainee's notes. Unknown ids answer NotFound naming the
field, rule violations InvalidInput (see backend.treatment.rules); each plan read or written is audited
against its client.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import strawberry

from backend.errors import InputRejected
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput, NotFound
from backend.graphql.programs import ModalityEnum
from backend.graphql.relay import parse_id, parse_optional_id
from backend.graphql.staff import StaffNode
from backend.graphql.transactions import Atomic
from backend.programs.models import Modality
from backend.staff.models import StaffMember
from backend.staff.store import credentials_of, staff_for_user
from backend.treatment.models import GoalStatus, PlanStatus, TreatmentGoal, TreatmentPlan
from backend.treatment.rules import GoalDraft
from backend.treatment.store import (
    add_care_team_member,
    add_goal,
    care_team,
    close_plan,
    create_plan,
    goals_of,
    plans_of,
    remove_care_team_member,
    set_goal_status,
    set_supervisor,
)

T = TypeVar("T")
PlanStatusEnum = strawberry.enum(PlanStatus, name="TreatmentPlanStatus")
GoalStatusEnum = strawberry.enum(GoalStatus, name="TreatmentGoalStatus")


@strawberry.type(name="TreatmentGoal")
class TreatmentGoalType:
    id: strawberry.ID = strawberry.field(description="The goalId member sections rate progress against")
    description: str
    target: str = strawberry.field(description="What is counted and the level that means the goal is met")
    target_date: date | None
    status: GoalStatusEnum  # type: ignore[valid-type]
    position: int

    @classmethod
    def of(cls, goal: TreatmentGoal) -> TreatmentGoalType:
        return cls(
            id=strawberry.ID(str(goal.id)),
            description=goal.description,
            target=goal.target,
            target_date=goal.target_date,
            status=goal.status,
            position=goal.position,
        )


@strawberry.type(name="TreatmentPlan")
class TreatmentPlanType:
    id: strawberry.ID
    client_id: strawberry.ID
    modality: ModalityEnum  # type: ignore[valid-type]
    program_id: strawberry.ID | None
    status: PlanStatusEnum  # type: ignore[valid-type]
    starts_on: date
    review_on: date | None
    created_at: datetime
    goals: list[TreatmentGoalType]

    @classmethod
    def of(cls, plan: TreatmentPlan, goals: list[TreatmentGoal]) -> TreatmentPlanType:
        return cls(
            id=strawberry.ID(str(plan.id)),
            client_id=strawberry.ID(str(plan.client_id)),
            modality=Modality(plan.modality),
            program_id=strawberry.ID(str(plan.program_id)) if plan.program_id else None,
            status=plan.status,
            starts_on=plan.starts_on,
            review_on=plan.review_on,
            created_at=plan.created_at,
            goals=[TreatmentGoalType.of(g) for g in goals],
        )


@strawberry.type(name="CareTeamMember")
class CareTeamMemberType:
    staff_id: strawberry.ID
    since: date
    staff: StaffNode


@strawberry.input
class TreatmentGoalInput:
    description: str
    target: str = strawberry.field(description="Measurable, e.g. 'DBT diary: 0 self-harm acts for 4 weeks'")
    target_date: date | None = None

    def to_draft(self) -> GoalDraft:
        return GoalDraft(self.description, self.target, self.target_date)


@strawberry.input
class CreateTreatmentPlanInput:
    client_id: strawberry.ID
    modality: ModalityEnum  # type: ignore[valid-type]
    starts_on: date
    goals: list[TreatmentGoalInput]
    program_id: strawberry.ID | None = strawberry.field(default=None, description="Of the same modality")
    review_on: date | None = None


@strawberry.input
class AddTreatmentGoalInput:
    plan_id: strawberry.ID
    goal: TreatmentGoalInput


@strawberry.type
class TreatmentPlanResult:
    plan: TreatmentPlanType


@strawberry.type
class CareTeamResult:
    client_id: strawberry.ID
    members: list[CareTeamMemberType]


@strawberry.type
class StaffSupervisorResult:
    staff: StaffNode
    supervisor: StaffNode | None


PlanChange = Annotated[TreatmentPlanResult | InvalidInput | NotFound, strawberry.union("TreatmentPlanChange")]
CareTeamChange = Annotated[CareTeamResult | InvalidInput | NotFound, strawberry.union("CareTeamChange")]
SupervisorChange = Annotated[
    StaffSupervisorResult | InvalidInput | NotFound, strawberry.union("StaffSupervisorChange")
]


async def _or_not_found(work: Awaitable[T]) -> T | NotFound:
    """An id the store could not find becomes NotFound naming it; other problems stay InvalidInput."""
    try:
        return await work
    except InputRejected as rejected:
        first = rejected.problems[0]
        if first.code != "not_found":
            raise
        return NotFound.of(first.field)


async def _plan_result(context: Context, plan: TreatmentPlan, action: str) -> TreatmentPlanResult:
    goals = await goals_of(context.session, [plan.id])
    context.audit(action, "treatment_plan", str(plan.id), plan.client_id)
    return TreatmentPlanResult(plan=TreatmentPlanType.of(plan, goals[plan.id]))


async def _staff_nodes(context: Context, staff: list[StaffMember]) -> list[StaffNode]:
    held = await credentials_of(context.session, [s.id for s in staff])
    return [StaffNode.of(s, held.get(s.id)) for s in staff]


async def _care_team(context: Context, client_id: uuid.UUID) -> list[CareTeamMemberType]:
    team = await care_team(context.session, client_id)
    nodes = await _staff_nodes(context, [staff for _, staff in team])
    return [
        CareTeamMemberType(staff_id=strawberry.ID(str(member.staff_id)), since=member.since, staff=node)
        for (member, _), node in zip(team, nodes, strict=True)
    ]


async def _care_team_result(context: Context, client_id: uuid.UUID) -> CareTeamResult:
    return CareTeamResult(
        client_id=strawberry.ID(str(client_id)), members=await _care_team(context, client_id)
    )


@strawberry.type
class TreatmentQueries:
    @strawberry.field(permission_classes=[allow("treatment_plan", "read")])
    async def treatment_plans(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[TreatmentPlanType]:
        """The client's plans, active ones first, then newest first."""
        client = parse_id(client_id, "clientId", in_input=False)
        plans = await plans_of(info.context.session, client)
        goals = await goals_of(info.context.session, [p.id for p in plans])
        for plan in plans:
            info.context.audit("read", "treatment_plan", str(plan.id), client)
        return [TreatmentPlanType.of(p, goals[p.id]) for p in plans]

    @strawberry.field(permission_classes=[allow("care_team", "read")])
    async def care_team(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> list[CareTeamMemberType]:
        """The clinicians treating the client (they may read the client's member sections)."""
        client = parse_id(client_id, "clientId", in_input=False)
        info.context.audit("read", "care_team", None, client)
        return await _care_team(info.context, client)


@strawberry.type
class TreatmentMutations:
    @strawberry.mutation(permission_classes=[allow("treatment_plan", "manage")], extensions=[Atomic()])
    async def create_treatment_plan(
        self, info: strawberry.Info[Context, Any], input: CreateTreatmentPlanInput
    ) -> PlanChange:
        """An active plan with its goals; every goal needs a description and a measurable target."""
        session = info.context.session
        author = await staff_for_user(session, info.context.require_principal().user_id)
        plan = await _or_not_found(
            create_plan(
                session,
                parse_id(input.client_id, "clientId"),
                Modality(input.modality).value,
                input.starts_on,
                [g.to_draft() for g in input.goals],
                program_id=parse_optional_id(input.program_id, "programId"),
                review_on=input.review_on,
                created_by=author.id if author else None,
            )
        )
        if isinstance(plan, NotFound):
            return plan
        return await _plan_result(info.context, plan, "create")

    @strawberry.mutation(permission_classes=[allow("treatment_plan", "manage")], extensions=[Atomic()])
    async def add_treatment_goal(
        self, info: strawberry.Info[Context, Any], input: AddTreatmentGoalInput
    ) -> PlanChange:
        """Append an active goal to an active plan (at most 20 goals a plan)."""
        session = info.context.session
        goal = await _or_not_found(
            add_goal(session, parse_id(input.plan_id, "planId"), input.goal.to_draft())
        )
        if isinstance(goal, NotFound):
            return goal
        return await _plan_result(info.context, await session.get_one(TreatmentPlan, goal.plan_id), "update")

    @strawberry.mutation(permission_classes=[allow("treatment_plan", "manage")], extensions=[Atomic()])
    async def set_treatment_goal_status(
        self,
        info: strawberry.Info[Context, Any],
        goal_id: strawberry.ID,
        status: GoalStatusEnum,  # type: ignore[valid-type]
    ) -> PlanChange:
        """Mark a goal met or discontinued, or resume it; goals of a closed plan do not change."""
        session = info.context.session
        goal = await _or_not_found(set_goal_status(session, parse_id(goal_id, "goalId"), GoalStatus(status)))
        if isinstance(goal, NotFound):
            return goal
        return await _plan_result(info.context, await session.get_one(TreatmentPlan, goal.plan_id), "update")

    @strawberry.mutation(permission_classes=[allow("treatment_plan", "manage")], extensions=[Atomic()])
    async def close_treatment_plan(
        self, info: strawberry.Info[Context, Any], plan_id: strawberry.ID
    ) -> PlanChange:
        """Close the plan: its goals are no longer rated in member sections."""
        plan = await _or_not_found(close_plan(info.context.session, parse_id(plan_id, "planId")))
        if isinstance(plan, NotFound):
            return plan
        return await _plan_result(info.context, plan, "update")

    @strawberry.mutation(permission_classes=[allow("care_team", "manage")], extensions=[Atomic()])
    async def add_care_team_member(
        self,
        info: strawberry.Info[Context, Any],
        client_id: strawberry.ID,
        staff_id: strawberry.ID,
        since: date | None = None,
    ) -> CareTeamChange:
        """Make an active staff member one of the client's treating clinicians (idempotent)."""
        client, staff = parse_id(client_id, "clientId"), parse_id(staff_id, "staffId")
        added = await _or_not_found(add_care_team_member(info.context.session, client, staff, since))
        if isinstance(added, NotFound):
            return added
        info.context.audit("create", "care_team", str(staff), client)
        return await _care_team_result(info.context, client)

    @strawberry.mutation(permission_classes=[allow("care_team", "manage")], extensions=[Atomic()])
    async def remove_care_team_member(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID, staff_id: strawberry.ID
    ) -> CareTeamChange:
        """The staff member no longer treats the client (NotFound naming staffId when they did not)."""
        client, staff = parse_id(client_id, "clientId"), parse_id(staff_id, "staffId")
        removed = await _or_not_found(remove_care_team_member(info.context.session, client, staff))
        if isinstance(removed, NotFound):
            return removed
        info.context.audit("delete", "care_team", str(staff), client)
        return await _care_team_result(info.context, client)

    @strawberry.mutation(permission_classes=[allow("staff", "manage")], extensions=[Atomic()])
    async def set_staff_supervisor(
        self,
        info: strawberry.Info[Context, Any],
        staff_id: strawberry.ID,
        supervisor_id: strawberry.ID | None = None,
    ) -> SupervisorChange:
        """Name the staff member's supervisor (who co-signs their notes), or clear it with null."""
        session = info.context.session
        supervisor = parse_optional_id(supervisor_id, "supervisorId")
        staff = await _or_not_found(set_supervisor(session, parse_id(staff_id, "staffId"), supervisor))
        if isinstance(staff, NotFound):
            return staff
        rows = [staff] if supervisor is None else [staff, await session.get_one(StaffMember, supervisor)]
        nodes = await _staff_nodes(info.context, rows)
        return StaffSupervisorResult(staff=nodes[0], supervisor=nodes[1] if len(nodes) > 1 else None)
