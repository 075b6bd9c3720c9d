"""Enrollment over GraphQL: both enrollClient results, typed errors, status history, census, rosters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx2 as httpx
from sqlalchemy import func, select

from backend.app import create_app
from backend.database import Database
from backend.enrollment.models import Enrollment
from backend.programs.models import ProgramKind
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import WaitlistEntry
from tests.enrollment.factories import make_clients, make_program, make_sessions, weeks_ago
from tests.enrollment.test_store import local_today
from tests.support import GraphQLClient, make_account

ENROLL = """
mutation($input: EnrollClientInput!) {
  enrollClient(input: $input) {
    __typename
    ... on EnrollmentCreated { enrollment { id status startsOn client { firstName } } }
    ... on PlacedOnWaitlist { entry { id status urgency } }
    ... on UserError { field code message }
  }
}"""
CHANGE = """
mutation($input: ChangeEnrollmentStatusInput!) {
  changeEnrollmentStatus(input: $input) {
    __typename
    ... on EnrollmentChanged {
      enrollment { status endsOn history { fromStatus toStatus effectiveOn reason } }
    }
    ... on UserError { field code }
  }
}"""
CENSUS = """
query($p: ID!) {
  programCensus(programId: $p) { enrolled active onHoldClinical onHoldAdministrative billable }
}"""
ROSTER = """
query($p: ID!, $ended: Boolean!) {
  programRoster(programId: $p, includeEnded: $ended) { nodes { status client { lastName } } }
}"""


def enroll_input(program_id: uuid.UUID, client_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "programId": str(program_id),
            "clientId": str(client_id),
            "startsOn": str(local_today()),
            **extra,
        }
    }


def test_enroll_client_answers_created_then_placed_on_waitlist_when_full(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Capacity 1: the first client is enrolled, the second waitlisted with the referral's urgency."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["front_desk"]).token
    program_id = make_program(database.engine, clinic.schema_name, capacity=1)
    first, second = make_clients(database.engine, clinic.schema_name, 2)
    created = graphql.data(ENROLL, enroll_input(program_id, first), token)["enrollClient"]
    assert created["__typename"] == "EnrollmentCreated"
    assert (created["enrollment"]["status"], created["enrollment"]["client"]["firstName"]) == (
        "ACTIVE",
        "Member0",
    )
    waitlisted = graphql.data(ENROLL, enroll_input(program_id, second, waitlist={"urgency": "URGENT"}), token)
    entry = waitlisted["enrollClient"]
    assert entry["__typename"] == "PlacedOnWaitlist"
    assert (entry["entry"]["status"], entry["entry"]["urgency"]) == ("WAITING", "URGENT")


def test_enroll_client_bad_input_is_typed_and_stores_nothing(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Closed window (startsOn), already enrolled (clientId), unknown client and program (NotFound)."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["clinician"]).token
    today = local_today()
    closed = make_program(
        database.engine,
        clinic.schema_name,
        kind=ProgramKind.CLOSED,
        starts_on=today - timedelta(days=40),
        windows=[(today - timedelta(days=40), today - timedelta(days=30))],
    )
    open_ = make_program(database.engine, clinic.schema_name)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    def error(variables: dict[str, Any]) -> tuple[str, str, str]:
        result = graphql.data(ENROLL, variables, token)["enrollClient"]
        return result["__typename"], result["field"], result["code"]

    assert error(enroll_input(closed, client_id)) == ("InvalidInput", "startsOn", "admission_closed")
    assert error(enroll_input(open_, uuid.uuid4())) == ("NotFound", "clientId", "not_found")
    assert error(enroll_input(uuid.uuid4(), client_id)) == ("NotFound", "programId", "not_found")
    assert graphql.data(ENROLL, enroll_input(open_, client_id), token)["enrollClient"]["__typename"] == (
        "EnrollmentCreated"
    )
    assert error(enroll_input(open_, client_id)) == ("InvalidInput", "clientId", "already_enrolled")
    bad_dx = enroll_input(closed, client_id, waitlist={"diagnoses": ["296.32"]})
    assert error(bad_dx)[0] == "InvalidInput"
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1
        assert session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_concurrent_graphql_enrollments_never_exceed_capacity(
    app_database: Database, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """12 requests in flight at once (each its own session and connection) race for 5 places."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["front_desk"]).token
    program_id = make_program(database.engine, clinic.schema_name, capacity=5)
    clients = make_clients(database.engine, clinic.schema_name, 12)
    app = create_app(settings, app_database)

    async def race() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

            async def one(client_id: uuid.UUID) -> str:
                body = {"query": ENROLL, "variables": enroll_input(program_id, client_id)}
                response = await http.post(
                    "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                return str(response.json()["data"]["enrollClient"]["__typename"])

            return await asyncio.gather(*(one(c) for c in clients))

    results = asyncio.run(race())
    assert sorted(results) == ["EnrollmentCreated"] * 5 + ["PlacedOnWaitlist"] * 7


def test_status_changes_keep_history_and_move_the_census(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Hold, return, graduate: each step in history; graduated is final; census counts open members."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["clinician"]).token
    program_id = make_program(database.engine, clinic.schema_name)
    a, b, c = make_clients(database.engine, clinic.schema_name, 3)
    ids = [
        graphql.data(ENROLL, enroll_input(program_id, x), token)["enrollClient"]["enrollment"]["id"]
        for x in (a, b, c)
    ]
    today = str(local_today())

    def change(enrollment_id: str, to: str, reason: str | None = None) -> dict[str, Any]:
        variables = {
            "input": {"enrollmentId": enrollment_id, "to": to, "effectiveOn": today, "reason": reason}
        }
        return dict(graphql.data(CHANGE, variables, token)["changeEnrollmentStatus"])

    change(ids[0], "ON_HOLD_CLINICAL", "hospitalized")
    change(ids[1], "ON_HOLD_ADMINISTRATIVE", "authorization lapsed")
    census = graphql.data(CENSUS, {"p": str(program_id)}, token)["programCensus"]
    assert census == {
        "enrolled": 3,
        "active": 1,
        "onHoldClinical": 1,
        "onHoldAdministrative": 1,
        "billable": 1,
    }
    change(ids[0], "ACTIVE")
    done = change(ids[0], "GRADUATED", "completed arc")["enrollment"]
    assert done["status"] == "GRADUATED" and done["endsOn"] == today
    assert [(h["fromStatus"], h["toStatus"]) for h in done["history"]] == [
        (None, "ACTIVE"),
        ("ACTIVE", "ON_HOLD_CLINICAL"),
        ("ON_HOLD_CLINICAL", "ACTIVE"),
        ("ACTIVE", "GRADUATED"),
    ]
    refused = change(ids[0], "ACTIVE")
    assert (refused["__typename"], refused["field"], refused["code"]) == (
        "InvalidInput",
        "to",
        "final_status",
    )
    not_found = change(str(uuid.uuid4()), "DROPPED")
    assert (not_found["__typename"], not_found["field"]) == ("NotFound", "enrollmentId")
    census = graphql.data(CENSUS, {"p": str(program_id)}, token)["programCensus"]
    assert (census["enrolled"], census["active"]) == (2, 1)
    open_roster = graphql.data(ROSTER, {"p": str(program_id), "ended": False}, token)["programRoster"][
        "nodes"
    ]
    full_roster = graphql.data(ROSTER, {"p": str(program_id), "ended": True}, token)["programRoster"]["nodes"]
    assert (len(open_roster), len(full_roster)) == (2, 3)


def test_end_before_start_is_refused_naming_ends_on(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An end date before the start is InvalidInput on endsOn; the enrollment keeps no end date."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["front_desk"]).token
    program_id = make_program(database.engine, clinic.schema_name)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)
    enrollment_id = graphql.data(ENROLL, enroll_input(program_id, client_id), token)["enrollClient"][
        "enrollment"
    ]["id"]
    end = (
        "mutation($i: EndEnrollmentInput!) "
        "{ endEnrollment(input: $i) { __typename ... on UserError { field code } } }"
    )
    before = str(local_today() - timedelta(days=1))
    result = graphql.data(end, {"i": {"enrollmentId": enrollment_id, "endsOn": before}}, token)[
        "endEnrollment"
    ]
    assert (result["__typename"], result["field"], result["code"]) == (
        "InvalidInput",
        "endsOn",
        "before_start",
    )
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(Enrollment, uuid.UUID(enrollment_id)).ends_on is None


def test_roles_without_the_enrollment_rule_are_refused(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A biller reads the census but may not enroll; a compliance officer may not read rosters."""
    clinic = make_clinic()
    program_id = make_program(database.engine, clinic.schema_name)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)
    biller = make_account(database, settings, clinic, ["biller"]).token
    auditor = make_account(database, settings, clinic, ["compliance_officer"]).token
    assert graphql.execute(ENROLL, enroll_input(program_id, client_id), biller)["errors"][0]["extensions"][
        "code"
    ] == ("FORBIDDEN")
    assert graphql.data(CENSUS, {"p": str(program_id)}, biller)["programCensus"]["enrolled"] == 0
    body = graphql.execute(ROSTER, {"p": str(program_id), "ended": False}, auditor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_member_enrolled_mid_series_is_on_future_sessions_only(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """sessionRoster of a past session lacks the new member; every future one lists them."""
    clinic = make_clinic()
    token = make_account(database, settings, clinic, ["clinician"]).token
    program_id = make_program(
        database.engine, clinic.schema_name, starts_on=date.today() - timedelta(weeks=6)
    )
    sessions = make_sessions(database.engine, clinic.schema_name, program_id, weeks_ago(2), 5)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)
    later = str(local_today() + timedelta(days=1))
    graphql.data(
        ENROLL,
        {"input": {"programId": str(program_id), "clientId": str(client_id), "startsOn": later}},
        token,
    )
    query = "query($s: ID!) { sessionRoster(sessionId: $s) { clientId attendance } }"
    counts = [len(graphql.data(query, {"s": str(s)}, token)["sessionRoster"]) for s in sessions]
    assert counts == [0, 0, 0, 1, 1]
