"""Treatment plans, care teams and supervisors through GraphQL over real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.settings import Settings
from backend.staff.models import BookableResource, StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_session, tenant_session
from backend.treatment.models import CareTeamMember, TreatmentGoal, TreatmentPlan
from backend.treatment.store import active_goal_ids
from tests.support import GraphQLClient, make_account
from tests.waitlist.factories import make_client, make_program

PROBLEM = "... on UserError { field code } ... on InvalidInput { errors { field code } }"
PLAN = """plan { id clientId modality programId status startsOn reviewOn
  goals { id description target targetDate status position } }"""
CREATE = (
    "mutation($input: CreateTreatmentPlanInput!) { createTreatmentPlan(input: $input) { __typename "
    + f"... on TreatmentPlanResult {{ {PLAN} }} {PROBLEM} }} }}"
)
ADD_GOAL = (
    "mutation($input: AddTreatmentGoalInput!) { addTreatmentGoal(input: $input) { __typename "
    + f"... on TreatmentPlanResult {{ {PLAN} }} {PROBLEM} }} }}"
)
GOAL_STATUS = (
    "mutation($id: ID!, $status: TreatmentGoalStatus!) { "
    + "setTreatmentGoalStatus(goalId: $id, status: $status) "
    + f"{{ __typename ... on TreatmentPlanResult {{ {PLAN} }} {PROBLEM} }} }}"
)
CLOSE = (
    "mutation($id: ID!) { closeTreatmentPlan(planId: $id) { __typename "
    + f"... on TreatmentPlanResult {{ {PLAN} }} {PROBLEM} }} }}"
)
PLANS = (
    "query($id: ID!) { treatmentPlans(clientId: $id) { id status modality goals { description status } } }"
)
TEAM_FIELDS = "clientId members { staffId since staff { displayName } }"
ADD_MEMBER = (
    "mutation($c: ID!, $s: ID!) { addCareTeamMember(clientId: $c, staffId: $s) { __typename "
    + f"... on CareTeamResult {{ {TEAM_FIELDS} }} {PROBLEM} }} }}"
)
REMOVE_MEMBER = (
    "mutation($c: ID!, $s: ID!) { removeCareTeamMember(clientId: $c, staffId: $s) { __typename "
    + f"... on CareTeamResult {{ {TEAM_FIELDS} }} {PROBLEM} }} }}"
)
TEAM = "query($c: ID!) { careTeam(clientId: $c) { staffId staff { displayName } } }"
SUPERVISE = (
    "mutation($s: ID!, $sup: ID) { setStaffSupervisor(staffId: $s, supervisorId: $sup) { __typename "
    + "... on StaffSupervisorResult { staff { displayName } supervisor { displayName } } "
    + f"{PROBLEM} }} }}"
)

GOALS = [
    {"description": "Reduce self-harm", "target": "DBT diary: 0 self-harm acts for 4 weeks"},
    {"description": "Use skills", "target": "Skills used on 5 of 7 days", "targetDate": "2026-06-01"},
]


def _staff(session: Session, name: str, active: bool = True) -> StaffMember:
    lane = BookableResource(kind="staff")
    session.add(lane)
    session.flush()
    staff = StaffMember(id=uuid.uuid4(), display_name=name, lane=lane.lane, active=active)
    session.add(staff)
    session.flush()
    return staff


def _plan_input(client_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    return {
        "input": {
            "clientId": str(client_id),
            "modality": "DBT_SKILLS",
            "startsOn": "2026-03-02",
            "reviewOn": "2026-06-01",
            "goals": GOALS,
            **overrides,
        }
    }


def _active_goals(
    database: Database, schema: str, clients: Collection[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    async def main() -> dict[uuid.UUID, set[str]]:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, schema) as session:
                return await active_goal_ids(session, clients)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_a_biller_cannot_read_or_write_plans_or_care_teams(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Billing staff see what a claim needs, not treatment goals or who treats a member."""
    clinic = make_clinic()
    biller = make_account(database, settings, clinic, ["biller"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client = make_client(session)
    for query, variables in [
        (PLANS, {"id": str(client.id)}),
        (TEAM, {"c": str(client.id)}),
        (CREATE, _plan_input(client.id)),
    ]:
        body = graphql.execute(query, variables, biller.token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(TreatmentPlan)).all() == []


def test_a_clinician_creates_a_plan_and_reading_it_is_audited(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """The plan is stored active with goals in order, names its program, and each read is audited."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client, program = make_client(session), make_program(session)
    variables = _plan_input(client.id, programId=str(program.id))
    result = graphql.data(CREATE, variables, clinician.token)["createTreatmentPlan"]
    assert result["__typename"] == "TreatmentPlanResult"
    plan = result["plan"]
    assert (plan["status"], plan["modality"], plan["programId"]) == ("ACTIVE", "DBT_SKILLS", str(program.id))
    assert [(g["target"], g["status"], g["position"]) for g in plan["goals"]] == [
        ("DBT diary: 0 self-harm acts for 4 weeks", "ACTIVE", 0),
        ("Skills used on 5 of 7 days", "ACTIVE", 1),
    ]
    plans = graphql.data(PLANS, {"id": str(client.id)}, clinician.token)["treatmentPlans"]
    assert [p["id"] for p in plans] == [plan["id"]]
    with tenant_session(database.engine, clinic.schema_name) as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "treatment_plan", AuditEvent.action == "read"
            )
        ).all()
    assert [(e.resource_id, e.member_id, e.user_id) for e in reads] == [
        (plan["id"], client.id, clinician.user_id)
    ]


def test_a_goal_without_a_measurable_target_is_refused_and_nothing_stored(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A blank target names goals[1].target; a review before the start names reviewOn; no plan is kept."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client = make_client(session)
    goals = [GOALS[0], {"description": "Attend group", "target": "  "}]
    variables = _plan_input(client.id, goals=goals, reviewOn="2026-03-01")
    result = graphql.data(CREATE, variables, clinician.token)["createTreatmentPlan"]
    assert result["__typename"] == "InvalidInput"
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("goals[1].target", "required"),
        ("reviewOn", "before_start"),
    }
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(TreatmentPlan)).all() == []
        assert session.scalars(select(TreatmentGoal)).all() == []


def test_unknown_client_or_program_is_not_found(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An id from another clinic (or none) answers NotFound naming the field."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client = make_client(session)
    result = graphql.data(CREATE, _plan_input(uuid.uuid4()), clinician.token)["createTreatmentPlan"]
    assert (result["__typename"], result["field"]) == ("NotFound", "clientId")
    variables = _plan_input(client.id, programId=str(uuid.uuid4()))
    result = graphql.data(CREATE, variables, clinician.token)["createTreatmentPlan"]
    assert (result["__typename"], result["field"]) == ("NotFound", "programId")


def test_goals_are_added_rated_met_and_the_closed_plan_is_frozen(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Only active goals of active plans can be rated at signing; a closed plan takes no more goals."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client, other = make_client(session), make_client(session, name="Kim")
    plan = graphql.data(CREATE, _plan_input(client.id), clinician.token)["createTreatmentPlan"]["plan"]
    goal = {"description": "Attend", "target": "10 of 12 sessions"}
    added = graphql.data(ADD_GOAL, {"input": {"planId": plan["id"], "goal": goal}}, clinician.token)
    goals = added["addTreatmentGoal"]["plan"]["goals"]
    assert [(g["description"], g["position"]) for g in goals][-1] == ("Attend", 2)
    met = graphql.data(GOAL_STATUS, {"id": goals[0]["id"], "status": "MET"}, clinician.token)
    assert [g["status"] for g in met["setTreatmentGoalStatus"]["plan"]["goals"]] == [
        "MET",
        "ACTIVE",
        "ACTIVE",
    ]
    bad = graphql.data(GOAL_STATUS, {"id": goals[0]["id"], "status": "DISCONTINUED"}, clinician.token)
    assert (bad["setTreatmentGoalStatus"]["field"], bad["setTreatmentGoalStatus"]["code"]) == (
        "status",
        "invalid_change",
    )
    active = _active_goals(database, clinic.schema_name, [client.id, other.id])
    assert active == {client.id: {goals[1]["id"], goals[2]["id"]}, other.id: set()}

    closed = graphql.data(CLOSE, {"id": plan["id"]}, clinician.token)["closeTreatmentPlan"]
    assert closed["plan"]["status"] == "CLOSED"
    refused = graphql.data(ADD_GOAL, {"input": {"planId": plan["id"], "goal": goal}}, clinician.token)
    assert refused["addTreatmentGoal"]["errors"] == [{"field": "planId", "code": "plan_closed"}]
    assert _active_goals(database, clinic.schema_name, [client.id]) == {client.id: set()}


def test_care_team_members_are_added_listed_and_removed(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Adding twice keeps one membership; an inactive clinician is refused; removing twice is NotFound."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        client = make_client(session)
        ana, former = _staff(session, "Ana Diaz"), _staff(session, "Former", active=False)
    variables = {"c": str(client.id), "s": str(ana.id)}
    for _ in range(2):
        added = graphql.data(ADD_MEMBER, variables, clinician.token)["addCareTeamMember"]
        assert [(m["staffId"], m["staff"]["displayName"]) for m in added["members"]] == [
            (str(ana.id), "Ana Diaz")
        ]
    inactive = graphql.data(ADD_MEMBER, {"c": str(client.id), "s": str(former.id)}, clinician.token)
    assert inactive["addCareTeamMember"]["errors"] == [{"field": "staffId", "code": "inactive"}]
    team = graphql.data(TEAM, {"c": str(client.id)}, clinician.token)["careTeam"]
    assert [m["staffId"] for m in team] == [str(ana.id)]

    removed = graphql.data(REMOVE_MEMBER, variables, clinician.token)["removeCareTeamMember"]
    assert removed["members"] == []
    again = graphql.data(REMOVE_MEMBER, variables, clinician.token)["removeCareTeamMember"]
    assert (again["__typename"], again["field"]) == ("NotFound", "staffId")
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(CareTeamMember)).all() == []
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.resource_type == "care_team", AuditEvent.member_id == client.id
            )
        ).all()
    assert {"create", "delete", "read"} <= set(actions)


def test_a_tenant_admin_sets_and_clears_a_supervisor(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A trainee gets an active supervisor; self-supervision, loops and inactive supervisors are refused."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        trainee, lead = _staff(session, "Trainee"), _staff(session, "Lead")
        gone = _staff(session, "Gone", active=False)

    def supervise(staff: StaffMember, supervisor: StaffMember | None, token: str = admin.token) -> Any:
        variables = {"s": str(staff.id), "sup": str(supervisor.id) if supervisor else None}
        return graphql.data(SUPERVISE, variables, token)["setStaffSupervisor"]

    forbidden = graphql.execute(SUPERVISE, {"s": str(trainee.id), "sup": str(lead.id)}, clinician.token)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    set_ = supervise(trainee, lead)
    assert (set_["staff"]["displayName"], set_["supervisor"]["displayName"]) == ("Trainee", "Lead")
    assert (supervise(lead, lead)["field"], supervise(lead, lead)["code"]) == (
        "supervisorId",
        "self_supervision",
    )
    assert supervise(lead, trainee)["code"] == "supervision_loop"
    assert supervise(trainee, gone)["errors"] == [{"field": "supervisorId", "code": "inactive"}]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(StaffMember, trainee.id).supervisor_id == lead.id
        assert session.get_one(StaffMember, lead.id).supervisor_id is None
    cleared = supervise(trainee, None)
    assert cleared["supervisor"] is None
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(StaffMember, trainee.id).supervisor_id is None
