"""Attendance, drop-ins and clinical contacts over GraphQL, with the absence job run by a real worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select, update
from starlette.testclient import TestClient

from backend.app import create_app
from backend.clinic.models import ClinicSettings
from backend.database import Database
from backend.enrollment.models import ClinicalContact, Enrollment, EnrollmentStatus
from backend.scheduling.models import GroupSession, SessionStatus
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session
from backend.workers.broker import setup_broker
from backend.workers.outbox import OutboxMessage
from tests.enrollment.factories import make_clients, make_program, make_sessions, weeks_ago
from tests.enrollment.test_graphql import ENROLL
from tests.enrollment.test_store import local_today
from tests.support import GraphQLClient, make_account

RECORD = """
mutation($input: RecordAttendanceInput!) {
  recordAttendance(input: $input) {
    __typename
    ... on AttendanceRecorded { roster { clientId attendance } }
    ... on UserError { field code }
  }
}"""
DROP_IN = """
mutation($input: AddDropInInput!) {
  addDropIn(input: $input) {
    __typename
    ... on DropInAdded { entry { enrollmentId } }
    ... on UserError { field code }
  }
}"""
CONTACT = """
mutation($input: RecordClinicalContactInput!) {
  recordClinicalContact(input: $input) { __typename ... on UserError { field code } }
}"""


@pytest.fixture
def broker(database: Database) -> Iterator[StubBroker]:
    stub = setup_broker(StubBroker(), engine=database.engine, registry=TenantRegistry(database.engine))
    yield stub
    stub.close()


@pytest.fixture
def api(app_database: Database, settings: Settings, broker: StubBroker) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database, broker=broker)) as http:
        yield GraphQLClient(http)


def run_worker(broker: StubBroker) -> None:
    worker = Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("outbox", fail_fast=True)
    finally:
        worker.stop()


class Group:
    """Three past and two future weekly sessions, two members enrolled before the first."""

    def __init__(self, api: GraphQLClient, database: Database, settings: Settings, clinic: Tenant) -> None:
        self.api, self.database, self.clinic = api, database, clinic
        self.token = make_account(database, settings, clinic, ["clinician"]).token
        self.program_id = make_program(
            database.engine, clinic.schema_name, starts_on=local_today() - timedelta(weeks=8)
        )
        self.sessions = make_sessions(database.engine, clinic.schema_name, self.program_id, weeks_ago(3), 5)
        self.absent, self.present = make_clients(database.engine, clinic.schema_name, 2)
        starts = str(local_today() - timedelta(weeks=4))
        for client_id in (self.absent, self.present):
            variables = {
                "input": {"programId": str(self.program_id), "clientId": str(client_id), "startsOn": starts}
            }
            assert (
                api.data(ENROLL, variables, self.token)["enrollClient"]["__typename"] == "EnrollmentCreated"
            )

    def record(self, index: int, entries: list[tuple[uuid.UUID, str]]) -> dict[str, Any]:
        variables = {
            "input": {
                "sessionId": str(self.sessions[index]),
                "entries": [{"clientId": str(c), "status": s} for c, s in entries],
            }
        }
        return dict(self.api.data(RECORD, variables, self.token)["recordAttendance"])

    def status(self, client_id: uuid.UUID) -> tuple[EnrollmentStatus, datetime | None]:
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            e = session.scalars(select(Enrollment).where(Enrollment.client_id == client_id)).one()
            return e.status, e.absence_flagged_at


def test_recording_attendance_runs_the_absence_job_that_drops_after_three_no_shows(
    api: GraphQLClient,
    broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """With auto-drop on, the worker drops the member absent three times; the present one stays."""
    clinic = make_clinic()
    group = Group(api, database, settings, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.execute(update(ClinicSettings).values(auto_drop_absent_members=True))
    for index in range(3):
        result = group.record(index, [(group.absent, "NO_SHOW"), (group.present, "PRESENT")])
        assert result["__typename"] == "AttendanceRecorded"
        run_worker(broker)
    assert group.status(group.absent)[0] == EnrollmentStatus.DROPPED
    assert group.status(group.present) == (EnrollmentStatus.ACTIVE, None)
    with tenant_session(database.engine, clinic.schema_name) as session:
        kinds = [(m.kind, m.processed_at is not None) for m in session.scalars(select(OutboxMessage))]
    assert kinds.count(("roster.attendance_recorded", True)) == 3
    # Written by the worker's handler: the drainer sends it (workers do not dispatch their own rows).
    assert [kind for kind, _ in kinds].count("waitlist.slot_opened") == 1


def test_attendance_is_refused_for_strangers_missing_members_and_cancelled_or_future_sessions(
    api: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Each refusal names its field and stores no mark and no outbox row."""
    clinic = make_clinic()
    group = Group(api, database, settings, clinic)
    stranger = uuid.uuid4()
    both = [(group.absent, "PRESENT"), (group.present, "PRESENT")]

    def error(index: int, entries: list[tuple[uuid.UUID, str]]) -> tuple[str, str]:
        result = group.record(index, entries)
        return result["field"], result["code"]

    assert error(0, [(group.absent, "PRESENT"), (stranger, "PRESENT")]) == (
        "entries[1].clientId",
        "not_on_roster",
    )
    assert error(0, [(group.absent, "PRESENT")]) == ("entries", "incomplete")
    assert error(4, both) == ("sessionId", "not_started")
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.execute(
            update(GroupSession)
            .where(GroupSession.id == group.sessions[1])
            .values(status=SessionStatus.CANCELLED)
        )
    assert error(1, both) == ("sessionId", "session_cancelled")
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("roster.%"))).all() == []


def test_a_drop_in_joins_one_session_only(
    api: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """The drop-in has no enrollment; adding them twice or to a past-closed session is refused."""
    clinic = make_clinic()
    group = Group(api, database, settings, clinic)
    (visitor,) = make_clients(database.engine, clinic.schema_name, 1)

    def drop_in(index: int, client_id: uuid.UUID) -> dict[str, Any]:
        variables = {"input": {"sessionId": str(group.sessions[index]), "clientId": str(client_id)}}
        return dict(api.data(DROP_IN, variables, group.token)["addDropIn"])

    assert drop_in(3, visitor) == {"__typename": "DropInAdded", "entry": {"enrollmentId": None}}
    assert drop_in(3, visitor) == {
        "__typename": "InvalidInput",
        "field": "clientId",
        "code": "already_on_roster",
    }
    assert drop_in(3, uuid.uuid4())["__typename"] == "NotFound"
    query = "query($s: ID!) { sessionRoster(sessionId: $s) { clientId } }"
    sizes = [len(api.data(query, {"s": str(s)}, group.token)["sessionRoster"]) for s in group.sessions[3:]]
    assert sizes == [3, 2]


def test_a_clinical_contact_clears_an_absence_flag_through_the_worker(
    api: GraphQLClient,
    broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """Flagged after three no-shows (auto-drop off), cleared once a call with the member is recorded."""
    clinic = make_clinic()
    group = Group(api, database, settings, clinic)
    for index in range(3):
        group.record(index, [(group.absent, "NO_SHOW"), (group.present, "PRESENT")])
        run_worker(broker)
    assert group.status(group.absent)[1] is not None
    now = datetime.now(UTC).isoformat()
    variables = {"input": {"clientId": str(group.absent), "occurredAt": now, "kind": "PHONE_CALL"}}
    assert api.data(CONTACT, variables, group.token)["recordClinicalContact"]["__typename"] == (
        "ClinicalContactRecorded"
    )
    run_worker(broker)
    assert group.status(group.absent) == (EnrollmentStatus.ACTIVE, None)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    bad = {"input": {"clientId": str(group.absent), "occurredAt": future, "kind": "PHONE_CALL"}}
    result = api.data(CONTACT, bad, group.token)["recordClinicalContact"]
    assert (result["field"], result["code"]) == ("occurredAt", "in_future")
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert len(session.scalars(select(ClinicalContact)).all()) == 1
