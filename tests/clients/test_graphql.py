"""The client record through GraphQL: contacts, diagnoses, coverage, updates, access and audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select, text

from backend.billing.eligibility_checks import CHECK_ELIGIBILITY
from backend.billing.models import ClaimFormat, Payer
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage
from tests.support import GraphQLClient, make_account

RECORD = """
  id firstName lastName email phone emergencyContacts { name relationship phone }
  administrativeSex address { line1 city state postalCode }
  diagnoses { id code primary notedOn }
  coverages { priority payerName memberId groupNumber }
"""
REGISTER = """
mutation($input: RegisterClientInput!) {
  registerClient(input: $input) {
    __typename
    ... on RegisterClientSuccess { client { id } }
    ... on InvalidInput { field code errors { field code } }
  }
}"""
GET = "query($id: ID!) { node(id: $id) { ... on Client { " + RECORD + " } } }"
CHANGE_RESULT = (
    "{ __typename ... on ClientChanged { client { "
    + RECORD
    + " } } ... on UserError { field code } "
    + "... on InvalidInput { errors { field code } } }"
)


def mutation(field: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {field}(input: $input) {CHANGE_RESULT} }}"


UPDATE = mutation("updateClient", "UpdateClientInput")
ADD_DX = mutation("addDiagnosis", "AddDiagnosisInput")
REMOVE_DX = mutation("removeDiagnosis", "RemoveDiagnosisInput")
SET_COVERAGE = mutation("setCoverage", "SetCoverageInput")
REMOVE_COVERAGE = mutation("removeCoverage", "RemoveCoverageInput")

FULL = {
    "firstName": "Rae",
    "lastName": "Okafor",
    "dateOfBirth": "1988-03-14",
    "email": "rae@example.test",
    "phone": "+1 555 010 2000",
    "emergencyContacts": [{"name": "Tom Okafor", "relationship": "brother", "phone": "555-010-3000"}],
    "diagnoses": [
        {"code": "F33.1", "notedOn": "2026-10-01", "primary": True},
        {"code": "f41.9", "notedOn": "2026-10-01"},
    ],
    "coverages": [{"priority": "PRIMARY", "payerName": "Aetna", "memberId": "W1234", "groupNumber": "G77"}],
}


def staff(database: Database, settings: Settings, clinic: Tenant, *roles: str) -> str:
    return make_account(database, settings, clinic, list(roles)).token


def register(graphql: GraphQLClient, token: str, payload: dict[str, Any]) -> str:
    result = graphql.data(REGISTER, {"input": payload}, token)["registerClient"]
    assert result["__typename"] == "RegisterClientSuccess", result
    return str(result["client"]["id"])


def test_a_registered_record_carries_contacts_diagnoses_and_coverage(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A biller reads back everything registered; codes are stored upper-case, primary first."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    record = graphql.data(GET, {"id": client_id}, staff(database, settings, clinic, "biller"))["node"]
    assert record["phone"] == "+1 555 010 2000"
    assert record["emergencyContacts"] == [
        {"name": "Tom Okafor", "relationship": "brother", "phone": "555-010-3000"}
    ]
    assert [(d["code"], d["primary"]) for d in record["diagnoses"]] == [("F33.1", True), ("F41.9", False)]
    assert record["coverages"] == [
        {"priority": "PRIMARY", "payerName": "Aetna", "memberId": "W1234", "groupNumber": "G77"}
    ]
    with tenant_session(database.engine, clinic.schema_name) as session:
        actions = {(e.action, e.resource_type) for e in session.scalars(select(AuditEvent))}
    assert {("create", "client"), ("read", "client"), ("read", "diagnosis"), ("read", "coverage")} <= actions


def test_a_malformed_icd10cm_code_is_refused_by_field_and_nothing_is_stored(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An ICD-9 code names diagnoses[1].code; neither the client nor the good diagnosis is kept."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    bad = {**FULL, "diagnoses": [FULL["diagnoses"][0], {"code": "296.32", "notedOn": "2026-10-01"}]}
    result = graphql.data(REGISTER, {"input": bad}, token)["registerClient"]
    assert result["__typename"] == "InvalidInput"
    assert (result["field"], result["code"]) == ("diagnoses[1].code", "invalid_icd10cm")
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(Client)).all() == []
        assert session.scalars(select(ClientDiagnosis)).all() == []


def test_front_desk_may_not_read_or_register_diagnoses(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Diagnoses are clinical: the front desk sees contacts and coverage but not diagnoses."""
    clinic = make_clinic()
    desk = staff(database, settings, clinic, "front_desk")
    body = graphql.execute(REGISTER, {"input": FULL}, desk)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    plain = {k: v for k, v in FULL.items() if k != "diagnoses"}
    client_id = register(graphql, desk, plain)
    body = graphql.execute(GET, {"id": client_id}, desk)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    ok = graphql.data(
        "query($id: ID!) { node(id: $id) { ... on Client { phone coverages { memberId } } } }",
        {"id": client_id},
        desk,
    )
    assert ok["node"]["coverages"] == [{"memberId": "W1234"}]


def test_update_changes_only_the_fields_sent_and_null_clears_email(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Names stay, email is cleared, phone replaced; a bad phone or unknown client is a typed error."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    changed = graphql.data(
        UPDATE, {"input": {"clientId": client_id, "email": None, "phone": "555 010 9999"}}, token
    )
    record = changed["updateClient"]["client"]
    assert (record["firstName"], record["email"], record["phone"]) == ("Rae", None, "555 010 9999")
    assert len(record["emergencyContacts"]) == 1
    bad = graphql.data(UPDATE, {"input": {"clientId": client_id, "phone": "call me"}}, token)["updateClient"]
    assert (bad["__typename"], bad["field"]) == ("InvalidInput", "phone")
    missing = graphql.data(UPDATE, {"input": {"clientId": "00000000-0000-0000-0000-000000000000"}}, token)
    assert (missing["updateClient"]["__typename"], missing["updateClient"]["field"]) == (
        "NotFound",
        "clientId",
    )


def test_diagnoses_are_added_demoting_the_old_primary_and_removed_keeping_history(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """One current primary at a time; a duplicate code is refused; removal keeps the row dated."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    new = {"clientId": client_id, "diagnosis": {"code": "F43.10", "notedOn": "2026-11-02", "primary": True}}
    record = graphql.data(ADD_DX, {"input": new}, token)["addDiagnosis"]["client"]
    assert [(d["code"], d["primary"]) for d in record["diagnoses"]] == [
        ("F43.10", True),
        ("F33.1", False),
        ("F41.9", False),
    ]
    dup = graphql.data(ADD_DX, {"input": new}, token)["addDiagnosis"]
    assert (dup["__typename"], dup["field"], dup["code"]) == ("InvalidInput", "diagnosis.code", "duplicate")
    ptsd = record["diagnoses"][0]["id"]
    after = graphql.data(REMOVE_DX, {"input": {"diagnosisId": ptsd}}, token)["removeDiagnosis"]["client"]
    assert [d["code"] for d in after["diagnoses"]] == ["F33.1", "F41.9"]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert (
            session.scalars(select(ClientDiagnosis).where(ClientDiagnosis.code == "F43.10")).one().removed_on
        )


def test_set_coverage_replaces_the_same_priority(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A new primary coverage replaces the old one; a secondary is added beside it."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    biller = staff(database, settings, clinic, "biller")
    for priority, payer in (("PRIMARY", "Cigna"), ("SECONDARY", "Medicaid")):
        coverage = {"priority": priority, "payerName": payer, "memberId": "M9"}
        graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": coverage}}, biller)
    record = graphql.data(GET, {"id": client_id}, biller)["node"]
    assert [(c["priority"], c["payerName"]) for c in record["coverages"]] == [
        ("PRIMARY", "Cigna"),
        ("SECONDARY", "Medicaid"),
    ]


def test_a_removed_coverage_with_authorizations_is_ended_and_keeps_them(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Removing the primary coverage an authorization hangs on ends it: it is no longer shown and a new
    primary can be entered, while the authorization stays on file with it; a secondary entered by
    mistake, with nothing recorded under it, is deleted."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    biller = staff(database, settings, clinic, "biller")
    mistake = {"priority": "SECONDARY", "payerName": "Typo Health", "memberId": "X1"}
    graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": mistake}}, biller)
    with tenant_session(database.engine, clinic.schema_name) as session:
        primary = session.scalars(select(ClientCoverage).where(ClientCoverage.priority == "primary")).one()
        session.add(
            Authorization(
                client_id=primary.client_id, coverage_id=primary.id, reference="PA-1", sessions_authorized=12,
                sessions_used=3, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
            )
        )  # fmt: skip

    def remove(priority: str) -> Any:
        variables = {"input": {"clientId": client_id, "priority": priority}}
        return graphql.data(REMOVE_COVERAGE, variables, biller)["removeCoverage"]

    assert remove("PRIMARY")["__typename"] == "ClientChanged"
    assert remove("SECONDARY")["__typename"] == "ClientChanged"
    assert graphql.data(GET, {"id": client_id}, biller)["node"]["coverages"] == []
    fresh = {"priority": "PRIMARY", "payerName": "Cigna", "memberId": "C1"}
    graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": fresh}}, biller)
    with tenant_session(database.engine, clinic.schema_name) as session:
        kept = session.execute(
            select(Authorization.reference, ClientCoverage.ended_at.is_not(None)).join(
                ClientCoverage, ClientCoverage.id == Authorization.coverage_id
            )
        ).all()
        rows = session.execute(select(ClientCoverage.payer_name, ClientCoverage.ended_at.is_(None))).all()
    assert kept == [("PA-1", True)]
    assert sorted(rows) == sorted([("Cigna", True), (primary.payer_name, False)])


def test_a_coverage_names_its_payer_by_id_and_set_coverage_keeps_the_link_unless_told(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Registered with the payer's id the coverage is linked (claims can go out); an unknown payer is
    refused naming coverages[0].payerId with nothing stored; setCoverage without payerId keeps the
    link, with null removes it."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    with tenant_session(database.engine, clinic.schema_name) as session:
        payer = Payer(name="Aetna", payer_code="AET01", claim_format=ClaimFormat.PROFESSIONAL)
        session.add(payer)
        session.flush()
        payer_id = str(payer.id)
    primary = {**FULL["coverages"][0], "payerId": str(uuid.uuid4())}
    refused = graphql.data(REGISTER, {"input": {**FULL, "coverages": [primary]}}, token)["registerClient"]
    assert (refused["__typename"], refused["field"], refused["code"]) == (
        "InvalidInput",
        "coverages[0].payerId",
        "not_found",
    )
    client_id = register(graphql, token, {**FULL, "coverages": [{**primary, "payerId": payer_id}]})
    linked = "coverages { id payerId memberId }"
    read = "query($id: ID!) { node(id: $id) { ... on Client { " + linked + " } } }"
    (coverage,) = graphql.data(read, {"id": client_id}, token)["node"]["coverages"]
    assert coverage["payerId"] == payer_id and coverage["id"]
    renumbered = {"priority": "PRIMARY", "payerName": "Aetna", "memberId": "W9999"}
    graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": renumbered}}, token)
    (kept,) = graphql.data(read, {"id": client_id}, token)["node"]["coverages"]
    assert (kept["id"], kept["payerId"], kept["memberId"]) == (coverage["id"], payer_id, "W9999")
    unlinked = {**renumbered, "payerId": None}
    graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": unlinked}}, token)
    assert graphql.data(read, {"id": client_id}, token)["node"]["coverages"][0]["payerId"] is None


def test_new_primary_insurance_is_checked_with_its_payer_at_once(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Linking a primary coverage to a payer, or moving it to another, queues a 270 now; a new member
    id with the same payer, a secondary coverage or an unlinked one queue nothing."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, FULL)
    with tenant_session(database.engine, clinic.schema_name) as session:
        payers = [
            Payer(name=n, payer_code=c, claim_format=ClaimFormat.PROFESSIONAL)
            for n, c in (("Aetna", "AET01"), ("Cigna", "CIG01"))
        ]
        session.add_all(payers)
        session.flush()
        aetna, cigna = (str(p.id) for p in payers)

    def set_coverage(priority: str, name: str, member_id: str, payer: str | None) -> int:
        coverage = {"priority": priority, "payerName": name, "memberId": member_id, "payerId": payer}
        graphql.data(SET_COVERAGE, {"input": {"clientId": client_id, "coverage": coverage}}, token)
        with tenant_session(database.engine, clinic.schema_name) as session:
            return len(
                session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_ELIGIBILITY)).all()
            )

    counts = [
        set_coverage("PRIMARY", "Aetna", "A1", None),
        set_coverage("PRIMARY", "Aetna", "A1", aetna),
        set_coverage("PRIMARY", "Aetna", "A2", aetna),
        set_coverage("SECONDARY", "Cigna", "C1", cigna),
        set_coverage("PRIMARY", "Cigna", "C9", cigna),
    ]
    assert counts == [0, 1, 1, 1, 2]


HOME = {"line1": " 10 Elm St ", "city": "Portland", "state": "me", "postalCode": "04101-1234"}


def test_an_address_and_administrative_sex_are_kept_as_a_claim_carries_them(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Registered with the home address and sex a claim's subscriber needs: read back trimmed, the
    state upper-case and the ZIP+4 as digits, and stored where the claim builder reads them."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, {**FULL, "address": HOME, "administrativeSex": "FEMALE"})
    record = graphql.data(GET, {"id": client_id}, staff(database, settings, clinic, "biller"))["node"]
    assert record["administrativeSex"] == "FEMALE"
    assert record["address"] == {
        "line1": "10 Elm St",
        "city": "Portland",
        "state": "ME",
        "postalCode": "041011234",
    }
    with tenant_session(database.engine, clinic.schema_name) as session:
        stored = session.scalars(select(Client)).one()
        assert (stored.sex, stored.address_line1, stored.state, stored.postal_code) == (
            "F",
            "10 Elm St",
            "ME",
            "041011234",
        )
        # The contact details are encrypted at rest: the row's bytes hold none of them.
        columns = "address_line1, city, postal_code, email, phone, emergency_contacts"
        raw = session.execute(text(f'SELECT {columns} FROM "{clinic.schema_name}".clients')).one()
    assert all(isinstance(v, bytes) for v in raw)
    stored_bytes = b"".join(raw)
    for plain in (b"Elm St", b"Portland", b"041011234", b"rae@example.test", b"555 010 2000", b"Tom Okafor"):
        assert plain not in stored_bytes


def test_a_bad_address_is_refused_naming_each_part_and_null_clears_it(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An unknown state and a short ZIP are each named and change nothing; sent as null the address
    is cleared while the sex, left out, stays."""
    clinic = make_clinic()
    token = staff(database, settings, clinic, "clinician", "front_desk")
    client_id = register(graphql, token, {**FULL, "address": HOME, "administrativeSex": "MALE"})
    bad = {**HOME, "state": "XX", "postalCode": "041"}
    refused = graphql.data(UPDATE, {"input": {"clientId": client_id, "address": bad}}, token)["updateClient"]
    assert refused["__typename"] == "InvalidInput"
    assert {(e["field"], e["code"]) for e in refused["errors"]} == {
        ("address.state", "invalid_state"),
        ("address.postalCode", "invalid_postal_code"),
    }
    kept = graphql.data(GET, {"id": client_id}, token)["node"]
    assert kept["address"]["postalCode"] == "041011234"
    cleared = graphql.data(UPDATE, {"input": {"clientId": client_id, "address": None}}, token)["updateClient"]
    assert cleared["client"]["address"] is None and cleared["client"]["administrativeSex"] == "MALE"
