"""The waitlist through GraphQL: referrals, the explained ranking, offers answered, separations."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from strawberry.relay import to_base64

from backend.clients.models import Client
from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.notifications.models import Notification
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.offers import SLOT_OPENED
from backend.waitlist.rules import Urgency, WaitlistStatus
from backend.workers.outbox import OutboxMessage, process
from tests.support import GraphQLClient, make_account
from tests.waitlist.factories import make_client, make_entry, make_member, make_program

CHANGE = """
  __typename
  ... on WaitlistEntryResult { entry { id status urgency diagnoses availability { weekday start end } } }
  ... on UserError { field code }
  ... on InvalidInput { errors { field code } }
"""
ADD = "mutation($input: AddToWaitlistInput!) { addToWaitlist(input: $input) {" + CHANGE + "} }"
UPDATE = "mutation($input: UpdateWaitlistEntryInput!) { updateWaitlistEntry(input: $input) {" + CHANGE + "} }"
ACCEPT = (
    "mutation($id: ID!, $on: Date!) { acceptWaitlistOffer(entryId: $id, startsOn: $on) {" + CHANGE + "} }"
)
DECLINE = "mutation($id: ID!) { declineWaitlistOffer(entryId: $id) {" + CHANGE + "} }"
WITHDRAW = "mutation($id: ID!) { withdrawFromWaitlist(entryId: $id) {" + CHANGE + "} }"
SEPARATE = """mutation($input: AddSeparationInput!) { addSeparation(input: $input) {
  __typename ... on UserError { field code } } }"""
RANKING = """query($id: ID!) { waitlistRanking(programId: $id) {
  openPlaces admissionsPerWeek waiting
  candidates { rank score eligible blockedBy estimatedWaitWeeks estimateBasis
    explanation { name points maxPoints reason } entry { id clientId status client { firstName } } } } }"""
LIST = """query($id: ID!) { waitlist(programId: $id, first: 10) {
  edges { node { id addedOn status } } pageInfo { hasNextPage } } }"""


def gid(entry_id: uuid.UUID) -> str:
    return to_base64("WaitlistEntry", str(entry_id))


def _setup(database: Database, settings: Settings, clinic: Tenant, roles: list[str] | None = None) -> str:
    return make_account(database, settings, clinic, roles or ["front_desk"]).token


def _process_slot_rows(database: Database, schema: str) -> None:
    with tenant_session(database.engine, schema) as session:
        ids = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.kind == SLOT_OPENED, OutboxMessage.processed_at.is_(None)
            )
        ).all()
    for outbox_id in ids:
        with tenant_session(database.engine, schema) as session:
            process(session, outbox_id)


def test_direct_referral_is_stored_with_its_details(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """addToWaitlist stores urgency, upper-cased codes and windows; a second referral is already_waiting."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        program, client = make_program(session), make_client(session)
    details = {
        "urgency": "SOON",
        "diagnoses": ["f33.1"],
        "availability": [{"weekday": 0, "start": "17:00:00", "end": "21:00:00"}],
        "referrerContact": "lee@referrer.test",
    }
    variables = {"input": {"programId": str(program.id), "clientId": str(client.id), "details": details}}
    result = graphql.data(ADD, variables, token)["addToWaitlist"]
    assert result["__typename"] == "WaitlistEntryResult"
    assert result["entry"]["status"] == "WAITING" and result["entry"]["diagnoses"] == ["F33.1"]
    assert result["entry"]["availability"] == [{"weekday": 0, "start": "17:00:00", "end": "21:00:00"}]
    again = graphql.data(ADD, variables, token)["addToWaitlist"]
    assert (again["field"], again["code"]) == ("clientId", "already_waiting")


def test_malformed_details_are_typed_errors_and_store_nothing(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Weekday 9, a window ending before its start and a non-ICD code name their fields; nothing stored."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        program, client = make_program(session), make_client(session)
    details = {
        "diagnoses": ["depression"],
        "availability": [{"weekday": 9, "start": "17:00:00", "end": "21:00:00"}],
    }
    variables = {"input": {"programId": str(program.id), "clientId": str(client.id), "details": details}}
    result = graphql.data(ADD, variables, token)["addToWaitlist"]
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("details.diagnoses", "invalid_icd10cm"),
        ("details.availability", "invalid_weekday"),
    }
    details = {"availability": [{"weekday": 1, "start": "17:00:00", "end": "16:00:00"}]}
    variables["input"]["details"] = details
    result = graphql.data(ADD, variables, token)["addToWaitlist"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("details.availability", "end_before_start")
    ]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(WaitlistEntry)).all() == []


def test_update_validates_the_merged_details(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Changing urgency works; a bad code is refused naming `diagnoses` and leaves the entry as it was."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        entry = make_entry(session, make_program(session), diagnoses=["F33.1"])
    ok = graphql.data(UPDATE, {"input": {"entryId": str(entry.id), "urgency": "URGENT"}}, token)
    assert ok["updateWaitlistEntry"]["entry"]["urgency"] == "URGENT"
    bad = graphql.data(
        UPDATE, {"input": {"entryId": str(entry.id), "diagnoses": ["F3"], "urgency": "SOON"}}, token
    )
    assert bad["updateWaitlistEntry"]["errors"] == [{"field": "diagnoses", "code": "invalid_icd10cm"}]
    with tenant_session(database.engine, clinic.schema_name) as session:
        stored = session.get_one(WaitlistEntry, entry.id)
    assert stored.urgency == Urgency.URGENT and stored.diagnoses == ["F33.1"]


def test_ranking_explains_each_candidate_and_estimates_the_wait(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Candidates come in offer order with components, blocked ones with reasons; reads are audited."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic, ["clinician"])
    today = date.today()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=10, fit_criteria={"diagnoses": ["F43.1"]})
        for weeks in (2, 6, 10, 14, 18, 22):  # 6 admissions in 26 weeks
            make_member(session, program, starts_on=today - timedelta(weeks=weeks))
        urgent = make_entry(session, program, urgency=Urgency.URGENT, diagnoses=["F43.10"])
        routine = make_entry(session, program, diagnoses=["F43.10"])
        blocked = make_entry(session, program, contraindications=["active_psychosis"])
    ranking = graphql.data(RANKING, {"id": str(program.id)}, token)["waitlistRanking"]
    assert ranking["openPlaces"] == 4 and ranking["waiting"] == 3
    candidates = ranking["candidates"]
    assert [c["entry"]["id"] for c in candidates] == [gid(urgent.id), gid(routine.id), gid(blocked.id)]
    assert [c["rank"] for c in candidates] == [1, 2, None]
    assert candidates[2]["blockedBy"] == ["contraindication: active_psychosis"]
    assert [c["estimatedWaitWeeks"] for c in candidates] == [5, 9, None]
    fit = candidates[0]["explanation"][0]
    assert fit == {
        "name": "fit",
        "points": 30.0,
        "maxPoints": 30.0,
        "reason": "diagnosis F43.10 fits the program",
    }
    assert candidates[0]["score"] == sum(c["points"] for c in candidates[0]["explanation"])
    assert candidates[0]["entry"]["client"]["firstName"] == "Ola"
    with tenant_session(database.engine, clinic.schema_name) as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.resource_type == "waitlist_entry")
        ).all()
        clients_read = session.scalars(
            select(AuditEvent.resource_id).where(AuditEvent.resource_type == "client")
        ).all()
    assert {a.resource_id for a in audited} == {str(urgent.id), str(routine.id), str(blocked.id)}
    # Each entry's `client` is a read of that client's record, audited as any other.
    assert set(clients_read) == {str(e.client_id) for e in (urgent, routine, blocked)}


def test_separation_blocks_a_candidate_from_a_members_group(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """After addSeparation with a current member the candidate is ineligible; adding it twice is fine."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session)
        member = make_member(session, program)
        entry = make_entry(session, program)
    pair = {"clientA": str(entry.client_id), "clientB": str(member.client_id), "reason": "same family"}
    for _ in range(2):
        assert (
            graphql.data(SEPARATE, {"input": pair}, token)["addSeparation"]["__typename"] == "SeparationAdded"
        )
    same = graphql.data(SEPARATE, {"input": {**pair, "clientB": pair["clientA"]}}, token)["addSeparation"]
    assert (same["field"], same["code"]) == ("clientB", "same_client")
    [candidate] = graphql.data(RANKING, {"id": str(program.id)}, token)["waitlistRanking"]["candidates"]
    assert candidate["blockedBy"] == ["separation from a current member"]


def _offered(
    database: Database, clinic: Tenant, capacity: int = 1
) -> tuple[Any, WaitlistEntry, WaitlistEntry]:
    """A program with one open place, offered to the first of two candidates by the worker."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session, capacity=capacity)
        first = make_entry(session, program, urgency=Urgency.URGENT)
        second = make_entry(session, program)
        from backend.workers.outbox import add_message

        add_message(session, SLOT_OPENED, {"program_id": program.id})
    _process_slot_rows(database, clinic.schema_name)
    return program, first, second


def test_accepting_an_offer_enrolls_the_client_and_places_the_entry(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """acceptWaitlistOffer creates an active enrollment and the entry is PLACED with it."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    _, first, _ = _offered(database, clinic)
    result = graphql.data(ACCEPT, {"id": str(first.id), "on": date.today().isoformat()}, token)
    assert result["acceptWaitlistOffer"]["entry"]["status"] == "PLACED"
    with tenant_session(database.engine, clinic.schema_name) as session:
        entry = session.get_one(WaitlistEntry, first.id)
        enrollment = session.get_one(Enrollment, entry.enrollment_id)
    assert enrollment.client_id == first.client_id and enrollment.status == EnrollmentStatus.ACTIVE
    again = graphql.data(ACCEPT, {"id": str(first.id), "on": date.today().isoformat()}, token)
    assert again["acceptWaitlistOffer"]["code"] == "not_offered"


def test_declining_offers_the_place_to_the_next_candidate(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """declineWaitlistOffer marks DECLINED and the worker offers the place to the next in line."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    _, first, second = _offered(database, clinic)
    assert (
        graphql.data(DECLINE, {"id": str(first.id)}, token)["declineWaitlistOffer"]["entry"]["status"]
        == "DECLINED"
    )
    _process_slot_rows(database, clinic.schema_name)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(WaitlistEntry, second.id).status == WaitlistStatus.OFFERED


def test_withdrawing_an_offered_entry_frees_the_place(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A withdrawn offer is WITHDRAWN and the place goes to the next candidate."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    _, first, second = _offered(database, clinic)
    result = graphql.data(WITHDRAW, {"id": str(first.id)}, token)["withdrawFromWaitlist"]
    assert result["entry"]["status"] == "WITHDRAWN"
    _process_slot_rows(database, clinic.schema_name)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(WaitlistEntry, second.id).status == WaitlistStatus.OFFERED
    listed = graphql.data(LIST, {"id": str(first.program_id)}, token)["waitlist"]["edges"]
    assert [e["node"]["id"] for e in listed] == [gid(second.id)]


def test_roles_without_waitlist_rules_are_refused(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A biller can neither read the ranking nor refer a client."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic, ["biller"])
    body = graphql.execute(RANKING, {"id": str(uuid.uuid4())}, token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_declined_offer_reaches_the_next_candidate_through_the_worker(
    graphql_with_worker: GraphQLClient,
    stub_broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """Decline commits, the outbox row is sent with ids only, the worker offers and delivers the notice."""
    clinic = make_clinic()
    token = _setup(database, settings, clinic)
    _, first, second = _offered(database, clinic)
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.get_one(Client, second.client_id).email = "kim@example.test"
    graphql_with_worker.data(DECLINE, {"id": str(first.id)}, token)
    assert "kim@example.test" not in str(list(stub_broker.queues["outbox"].queue))
    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        # The offer's notification rows are sent by the worker right after its commit (no drain).
        stub_broker.join("outbox", fail_fast=True)
    finally:
        worker.stop()
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.get_one(WaitlistEntry, second.id).status == WaitlistStatus.OFFERED
        (notice,) = [n for n in session.scalars(select(Notification)) if n.recipient == "kim@example.test"]
    assert notice.delivered_at is not None and notice.body is None, "delivered, its text not kept"
