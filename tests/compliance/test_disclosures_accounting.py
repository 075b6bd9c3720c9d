"""The accounting of disclosures (42 CFR 2.25) and the compliance officer's list, on real PostgreSQL.

Disclosures are recorded here as billing records them (`record_disclosures_sync`, the system as
discloser) at chosen instants, so the 3-year window can be tested without waiting.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.clients.models import Client
from backend.compliance.disclosures.models import DisclosureRow
from backend.compliance.disclosures.rules import Channel
from backend.compliance.disclosures.store import NewDisclosure, record_disclosures_sync
from backend.compliance.part2.consents import Category, Purpose, RecipientKind
from backend.compliance.part2.models import Consent
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.compliance.test_disclosures import Clinic, build_clinic
from tests.documentation.test_privacy_matrix import client_account
from tests.support import GraphQLClient


@pytest.fixture
def scenario(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant], graphql: GraphQLClient
) -> Clinic:
    return build_clinic(database, settings, make_clinic(), graphql, member_count=2)


def claim(scenario: Clinic, consent_id: uuid.UUID, client_id: uuid.UUID | None = None) -> NewDisclosure:
    return NewDisclosure(
        client_id=client_id or scenario.member_id,
        recipient_kind=RecipientKind.PAYER,
        recipient_id=scenario.payer_id,
        recipient_name="Medicaid MCO",
        purpose=Purpose.PAYMENT,
        categories=frozenset({Category.DIAGNOSES, Category.ATTENDANCE}),
        description="claim: 1 Part 2 session, 1 SUD diagnosis",
        consent_id=consent_id,
        channel=Channel.CLAIM,
        disclosed_by=None,
    )


def record_at(scenario: Clinic, disclosures: list[NewDisclosure], at: datetime) -> None:
    with tenant_session(scenario.database.engine, scenario.clinic.schema_name) as session:
        record_disclosures_sync(session, disclosures, at)


def other_member(scenario: Clinic) -> uuid.UUID:
    with tenant_session(scenario.database.engine, scenario.clinic.schema_name) as session:
        return next(c for c in session.scalars(select(Client.id)) if c != scenario.member_id)


def test_the_accounting_covers_the_last_three_years_by_default(scenario: Clinic) -> None:
    """Releases 4 years, 2 years and 1 day ago: the default accounting lists the last two, newest first;
    asked from 5 years back, all three."""
    consent_id = scenario.consent(starts_at=datetime.now(UTC) - timedelta(days=6 * 365))
    now = datetime.now(UTC)
    for days in (4 * 365 + 1, 2 * 365, 1):
        record_at(scenario, [claim(scenario, consent_id)], now - timedelta(days=days))
    default = scenario.accounting()
    assert len(default["disclosures"]) == 2
    first, second = (datetime.fromisoformat(d["disclosedAt"]) for d in default["disclosures"])
    assert first > second > now - timedelta(days=3 * 365)
    assert date.fromisoformat(default["from"]) == date.fromisoformat(default["to"]).replace(
        year=date.fromisoformat(default["to"]).year - 3
    )
    wider = scenario.accounting(**{"from": (now - timedelta(days=5 * 365)).date().isoformat()})
    assert len(wider["disclosures"]) == 3


def test_a_claim_disclosure_names_the_system_and_the_payer(scenario: Clinic) -> None:
    """A disclosure billing recorded shows the system as discloser, the payer, the purpose and the consent."""
    consent_id = scenario.consent()
    record_at(scenario, [claim(scenario, consent_id)], datetime.now(UTC))
    (listed,) = scenario.accounting()["disclosures"]
    assert listed["disclosedBy"] is None and listed["disclosedByName"] == "system"
    assert listed["recipient"] == {"kind": "PAYER", "id": str(scenario.payer_id), "name": "Medicaid MCO"}
    assert (listed["purpose"], listed["channel"], listed["consentId"]) == (
        "PAYMENT",
        "CLAIM",
        str(consent_id),
    )


def test_the_accounting_csv_has_a_row_per_disclosure_and_no_note_text(scenario: Clinic) -> None:
    """The CSV export has the header and one row per disclosure with who, to whom, what, when, consent."""
    consent_id = scenario.consent()
    record_at(scenario, [claim(scenario, consent_id)], datetime.now(UTC) - timedelta(days=3))
    scenario.export()
    body = scenario.data("officer", "AccountingOfDisclosuresCsv", memberId=str(scenario.member_id))
    rows = list(csv.DictReader(io.StringIO(body["accountingOfDisclosures"]["csv"])))
    assert [r["channel"] for r in rows] == ["fhir_export", "claim"]
    assert {r["consent_id"] for r in rows} == {str(consent_id)}
    assert rows[1]["disclosed_by"] == "system" and rows[1]["recipient_name"] == "Medicaid MCO"
    assert rows[0]["recipient_name"] == "Riverside Psychiatry" and rows[0]["purpose"] == "treatment"
    assert "cravings" not in body["accountingOfDisclosures"]["csv"]


def test_the_compliance_officer_lists_disclosures_by_time_and_member(scenario: Clinic) -> None:
    """The officer's list spans members within the dates, narrows to one member, and has a CSV."""
    consent_id = scenario.consent()
    second = other_member(scenario)
    with tenant_session(scenario.database.engine, scenario.clinic.schema_name) as session:
        other_consent = session.get_one(Consent, consent_id)
        copy = Consent(
            client_id=second,
            purposes=other_consent.purposes,
            categories=other_consent.categories,
            starts_at=other_consent.starts_at,
            end_event=other_consent.end_event,
            recorded_by=other_consent.recorded_by,
        )
        session.add(copy)
        session.flush()
        second_consent = copy.id
    now = datetime.now(UTC)
    record_at(scenario, [claim(scenario, consent_id), claim(scenario, second_consent, second)], now)
    record_at(scenario, [claim(scenario, consent_id)], now - timedelta(days=40))
    window = {
        "from": (now - timedelta(days=7)).date().isoformat(),
        "to": (now + timedelta(days=1)).date().isoformat(),
    }
    everyone = scenario.data("officer", "Disclosures", **window)["disclosures"]
    assert {d["memberId"] for d in everyone["disclosures"]} == {str(scenario.member_id), str(second)}
    assert not everyone["truncated"]
    one = scenario.data("officer", "Disclosures", memberId=str(second), **window)["disclosures"]
    assert [d["memberId"] for d in one["disclosures"]] == [str(second)]
    exported = scenario.data("officer", "DisclosuresCsv", **window)["disclosures"]["csv"]
    assert len(list(csv.DictReader(io.StringIO(exported)))) == 2


def test_a_window_ending_before_it_starts_and_an_unknown_member_are_typed_errors(scenario: Clinic) -> None:
    """to before from: InvalidInput naming `to`; an unknown member: NotFound naming `memberId`."""
    backwards = scenario.accounting(**{"from": "2026-05-02", "to": "2026-05-01"})
    assert (backwards["__typename"], backwards["field"]) == ("InvalidInput", "to")
    unknown = scenario.data("officer", "AccountingOfDisclosures", memberId=str(uuid.uuid4()))
    assert (
        unknown["accountingOfDisclosures"]["__typename"],
        unknown["accountingOfDisclosures"]["field"],
    ) == (
        "NotFound",
        "memberId",
    )
    listed = scenario.data("officer", "Disclosures", **{"from": "2026-05-02", "to": "2026-05-01"})
    assert listed["disclosures"]["__typename"] == "InvalidInput"


def test_a_disclosure_without_a_consent_is_refused_and_nothing_is_written(scenario: Clinic) -> None:
    """Part 2 information leaves only under a consent: the store refuses a record naming none."""
    consent_id = scenario.consent()
    with pytest.raises(ValueError, match="consentId"):
        record_at(
            scenario,
            [claim(scenario, consent_id), replace(claim(scenario, consent_id), consent_id=None)],
            datetime.now(UTC),
        )
    assert scenario.rows(DisclosureRow) == []


def test_a_client_reads_their_own_accounting_on_mobile_and_nobody_elses(
    scenario: Clinic, settings: Settings
) -> None:
    """The member sees the release of their record; the other member sees an empty list; staff
    have no `myDisclosures`."""
    consent_id = scenario.consent()
    record_at(scenario, [claim(scenario, consent_id)], datetime.now(UTC) - timedelta(days=2))
    for key, member in (("me", scenario.member_id), ("other", other_member(scenario))):
        scenario.accounts[key] = client_account(scenario.database, settings, scenario.clinic, member)
    mine = scenario.data("me", "MyDisclosures")["myDisclosures"]
    assert mine["__typename"] == "AccountingOfDisclosures"
    assert [(d["memberId"], d["recipient"]["name"]) for d in mine["disclosures"]] == [
        (str(scenario.member_id), "Medicaid MCO")
    ]
    assert scenario.data("other", "MyDisclosures")["myDisclosures"]["disclosures"] == []
    staff = scenario.run("officer", "MyDisclosures")
    assert staff["data"] is None and staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_client_asking_for_a_backwards_window_gets_a_typed_error_naming_to(
    scenario: Clinic, settings: Settings
) -> None:
    """The mobile field refuses `to` before `from` as the officer's does, naming `to`."""
    scenario.accounts["me"] = client_account(scenario.database, settings, scenario.clinic, scenario.member_id)
    window = {"from": "2026-05-02", "to": "2026-05-01"}
    backwards = scenario.data("me", "MyDisclosures", **window)["myDisclosures"]
    assert (backwards["__typename"], backwards["field"]) == ("InvalidInput", "to")
