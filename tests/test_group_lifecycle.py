"""A group's life through the frontend contract's own operations: set up, fill, waitlist, graduate, offer.

Runs the `.graphql` documents SPA and mobile clients send (by operation name), over real
PostgreSQL, with the outbox work processed by a Dramatiq worker on a StubBroker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.graphql.contract import OPERATIONS_DIR
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRegistry
from backend.workers.actors import OUTBOX_QUEUE
from backend.workers.broker import setup_broker
from tests.support import Account, GraphQLClient, make_account


def contract(operation: str, file: str) -> str:
    """The document of `file` in frontend_contract/operations (sent whole, with `operationName`)."""
    text = (OPERATIONS_DIR / file).read_text()
    assert f" {operation}(" in text or f" {operation} " in text, f"{operation} not in {file}"
    return text


class ContractClient:
    def __init__(self, graphql: GraphQLClient, account: Account) -> None:
        self.graphql, self.account = graphql, account

    def run(self, operation: str, file: str, **variables: Any) -> Any:
        body = {"query": contract(operation, file), "operationName": operation, "variables": variables}
        headers = {"Authorization": f"Bearer {self.account.token}"}
        response = self.graphql.http.post("/graphql", json=body, headers=headers).json()
        assert not response.get("errors"), response["errors"]
        return response["data"]


@pytest.fixture
def broker(database: Database) -> Iterator[StubBroker]:
    stub = setup_broker(StubBroker(), engine=database.engine, registry=TenantRegistry(database.engine))
    yield stub
    stub.close()


@pytest.fixture
def staff_app(app_database: Database, settings: Settings, broker: StubBroker) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database, broker=broker)) as http:
        yield GraphQLClient(http)


def run_worker(broker: StubBroker) -> None:
    worker = Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(OUTBOX_QUEUE, fail_fast=True)
    finally:
        worker.stop()


def next_monday(after: date) -> date:
    return after + timedelta(days=7 - after.weekday())


def test_a_graduation_offers_the_place_to_the_waitlisted_client_who_joins_future_sessions(
    staff_app: GraphQLClient,
    broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """Capacity 2: the third client is waitlisted, a graduation frees the place, the offer is accepted."""
    clinic = make_clinic()
    desk = ContractClient(staff_app, make_account(database, settings, clinic, ["tenant_admin", "front_desk"]))
    lead = desk.run("CreateStaffMember", "scheduling.graphql", input={"displayName": "Dana Lead"})
    start = next_monday(date.today())
    created = desk.run(
        "CreateProgram",
        "scheduling.graphql",
        input={
            "name": "Evening DBT skills",
            "modality": "DBT_SKILLS",
            "kind": "OPEN",
            "levelOfCare": "OUTPATIENT",
            "capacity": 2,
            "therapeuticMinimum": 2,
            "defaultCpt": "90853",
            "sessionMinutes": 90,
            "startsOn": start.isoformat(),
            "endsOn": (start + timedelta(weeks=8)).isoformat(),
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "firstStart": datetime.combine(start, time(18, 0)).isoformat(),
            "leadFacilitatorId": lead["createStaffMember"]["id"],
            "telehealth": True,
        },
    )["createProgram"]
    assert created["__typename"] == "CreateProgramSuccess" and created["sessionsCreated"] == 9
    program_id = created["program"]["id"]

    clients = []
    for first in ("Ana", "Ben", "Cy"):
        registered = desk.run(
            "RegisterClient",
            "clients.graphql",
            input={
                "firstName": first,
                "lastName": "Lane",
                "dateOfBirth": "1990-01-01",
                "email": f"{first}@x.test",
            },
        )["registerClient"]
        clients.append(registered["client"]["id"])
    results = [
        desk.run(
            "EnrollClient",
            "enrollment.graphql",
            input={
                "programId": program_id,
                "clientId": client,
                "startsOn": start.isoformat(),
                "waitlist": {"urgency": "SOON"},
            },
        )["enrollClient"]
        for client in clients
    ]
    assert [r["__typename"] for r in results] == [
        "EnrollmentCreated",
        "EnrollmentCreated",
        "PlacedOnWaitlist",
    ]
    run_worker(broker)  # welcome notices; nothing is offered while the group is full
    entry_id = results[2]["entry"]["id"]

    graduation_day = start + timedelta(weeks=2)
    desk.run(
        "ChangeEnrollmentStatus",
        "enrollment.graphql",
        input={
            "enrollmentId": results[0]["enrollment"]["id"],
            "to": "GRADUATED",
            "effectiveOn": graduation_day.isoformat(),
            "reason": "completed the skills arc",
        },
    )
    run_worker(broker)  # slot opened -> ranked -> offered to the waitlisted client, notices sent
    waiting = desk.run("Waitlist", "waitlist.graphql", programId=program_id)["waitlist"]
    offered = [e["node"] for e in waiting["edges"] if e["node"]["id"] == entry_id]
    assert offered and offered[0]["status"] == "OFFERED"

    joins = graduation_day + timedelta(weeks=1)
    accepted = desk.run(
        "AcceptWaitlistOffer", "waitlist.graphql", entryId=entry_id, startsOn=joins.isoformat()
    )
    assert accepted["acceptWaitlistOffer"]["entry"]["status"] == "PLACED"

    program = desk.run(
        "GetProgram",
        "scheduling.graphql",
        id=program_id,
        fromDate=start.isoformat(),
        toDate=(start + timedelta(weeks=8)).isoformat(),
    )["node"]
    rosters = {
        date.fromisoformat(s["startsAt"][:10]): {
            r["client"]["firstName"]
            for r in desk.run("SessionRoster", "enrollment.graphql", sessionId=s["id"])["sessionRoster"]
        }
        for s in program["sessions"]
    }
    assert rosters[start] == {"Ana", "Ben"}
    assert rosters[graduation_day] == {"Ana", "Ben"}
    assert rosters[graduation_day + timedelta(weeks=1)] == {"Ben", "Cy"}
    assert rosters[start + timedelta(weeks=8)] == {"Ben", "Cy"}
