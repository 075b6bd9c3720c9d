"""Billing through the frontend contract: setup errors, the preview, decisions, claims and a void."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.engine import SESSION_CLOSED, SUBMIT_CLAIMS
from backend.billing.models import Claim
from backend.billing.submission import process_responses, use_clearinghouse
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.billing.simulated_clearinghouse import SimulatedClearinghouse
from tests.billing.test_claim_cycle import _configure, _process_kind
from tests.billing.test_engine import billed  # noqa: F401
from tests.documentation.test_session_record_graphql import Caller, Scenario, api  # noqa: F401
from tests.support import GraphQLClient, make_account

FILE = "billing.graphql"
PROVIDER = {
    "name": "Harbor Behavioral Health",
    "npi": "1555555550",
    "taxId": "123456789",
    "taxonomy": "261QM0801X",
    "addressLine1": "12 Harbor St",
    "city": "Portland",
    "state": "ME",
    "postalCode": "041011234",
    "contactPhone": "2075550100",
}


@pytest.fixture
def biller(api: GraphQLClient, database: Database, settings: Settings) -> Callable[[Tenant], Caller]:  # noqa: F811
    return lambda clinic: Caller(api, make_account(database, settings, clinic, ["biller"]))


@pytest.fixture
def drop(tmp_path: Path) -> Iterator[Path]:
    previous = use_clearinghouse(lambda schema: FileDropClearinghouse(tmp_path / schema))
    yield tmp_path
    use_clearinghouse(previous)


def test_a_billing_provider_names_its_facility_type_for_iop_claims(
    biller: Callable[[Tenant], Caller], make_clinic: Callable[..., Tenant]
) -> None:
    """Hospital outpatient unless said otherwise; a CMHC is kept; an unknown facility type is refused
    naming the field, and nothing is stored."""
    b = biller(make_clinic())
    unknown = b.run("AddBillingProvider", FILE, input={**PROVIDER, "facilityType": "CLINIC"})
    assert unknown["errors"] and "facilityType" in unknown["errors"][0]["message"]
    assert b.data("BillingProviders", FILE)["billingProviders"] == []
    hospital = b.data("AddBillingProvider", FILE, input=PROVIDER)["addBillingProvider"]["provider"]
    assert hospital["facilityType"] == "HOSPITAL_OUTPATIENT"
    cmhc = {**PROVIDER, "facilityType": "COMMUNITY_MENTAL_HEALTH_CENTER"}
    added = b.data("AddBillingProvider", FILE, input=cmhc)["addBillingProvider"]["provider"]
    listed = {
        p["id"]: (p["facilityType"], p["isDefault"])
        for p in b.data("BillingProviders", FILE)["billingProviders"]
    }
    assert listed == {
        hospital["id"]: ("HOSPITAL_OUTPATIENT", False),
        added["id"]: ("COMMUNITY_MENTAL_HEALTH_CENTER", True),
    }


def test_a_billing_provider_is_corrected_in_place_and_a_bad_correction_changes_nothing(
    biller: Callable[[Tenant], Caller], make_clinic: Callable[..., Tenant]
) -> None:
    """A clinic that turns out to be a CMHC corrects its provider (and makes it the default again);
    a correction with a bad NPI is refused naming the field and leaves the stored provider as it
    was; an unknown provider id is NotFound."""
    b = biller(make_clinic())
    first = b.data("AddBillingProvider", FILE, input=PROVIDER)["addBillingProvider"]["provider"]
    b.data("AddBillingProvider", FILE, input={**PROVIDER, "name": "Second site"})

    def update(provider_id: str, **changes: object) -> dict[str, Any]:
        answer = b.data("UpdateBillingProvider", FILE, providerId=provider_id, input={**PROVIDER, **changes})
        return dict(answer["updateBillingProvider"])

    moved = update(first["id"], facilityType="COMMUNITY_MENTAL_HEALTH_CENTER", city="Bangor")
    assert moved["__typename"] == "BillingProviderResult"
    bad = update(first["id"], npi="1555555551", city="Augusta")
    assert (bad["__typename"], [e["field"] for e in bad["errors"]]) == ("InvalidInput", ["npi"])
    assert update(str(uuid.uuid4()))["__typename"] == "NotFound"
    stored = {p["id"]: p for p in b.data("BillingProviders", FILE)["billingProviders"]}
    assert (stored[first["id"]]["facilityType"], stored[first["id"]]["city"]) == (
        "COMMUNITY_MENTAL_HEALTH_CENTER",
        "Bangor",
    )
    assert [p["id"] for p in stored.values() if p["isDefault"]] == [first["id"]]


def test_setup_errors_name_the_field_and_store_nothing(
    biller: Callable[[Tenant], Caller], make_clinic: Callable[..., Tenant]
) -> None:
    """A bad NPI check digit, a short tax id, an overlapping rule version: typed errors, nothing stored."""
    b = biller(make_clinic())
    bad = b.data("AddBillingProvider", FILE, input={**PROVIDER, "npi": "1555555551", "taxId": "12345"})
    assert bad["addBillingProvider"]["__typename"] == "InvalidInput"
    assert {e["field"] for e in bad["addBillingProvider"]["errors"]} == {"npi", "taxId"}
    assert b.data("BillingProviders", FILE)["billingProviders"] == []
    payer = b.data(
        "AddPayer", FILE, input={"name": "Medicaid MCO", "payerCode": "MCD01", "claimFormat": "PROFESSIONAL"}
    )["addPayer"]["payer"]
    rules = {"group_modifier": "HQ", "fee_schedule": {"90853": "45.00"}}
    first = {
        "payerId": payer["id"],
        "effectiveFrom": "2026-01-01",
        "effectiveTo": "2026-06-30",
        "rules": rules,
    }
    assert (
        b.data("AddPayerRuleVersion", FILE, input=first)["addPayerRuleVersion"]["__typename"] == "PayerResult"
    )
    overlapping = {**first, "effectiveFrom": "2026-06-01", "effectiveTo": None}
    refused = b.data("AddPayerRuleVersion", FILE, input=overlapping)["addPayerRuleVersion"]
    assert refused["__typename"] == "InvalidInput" and refused["field"] == "effectiveFrom"
    unknown = {**first, "effectiveFrom": "2027-01-01", "effectiveTo": None, "rules": {"group_modifer": "HQ"}}
    typo = b.data("AddPayerRuleVersion", FILE, input=unknown)["addPayerRuleVersion"]
    assert typo["__typename"] == "InvalidInput" and typo["field"].startswith("rules")
    (stored,) = b.data("Payers", FILE)["payers"]
    assert [v["effectiveFrom"] for v in stored["ruleVersions"]] == ["2026-01-01"]


def test_preview_decisions_claims_payment_and_void_through_graphql(
    billed: Scenario,  # noqa: F811
    biller: Callable[[Tenant], Caller],
    drop: Path,
) -> None:
    """The biller sees every member's decision, the 7 claims, the payment, and voids a paid claim (freq 8)."""
    s = billed
    b = biller(s.clinic)
    preview = b.data("BillingPreview", FILE, sessionId=s.sid)["billingPreview"]
    by_client: dict[str, Any] = {d["clientId"]: d for d in preview}
    assert len(by_client) == 8
    assert [(r["code"], r["blocking"]) for r in by_client[str(s.no_show.client_id)]["reasons"]] == [
        ("absent", True)
    ]
    _configure(s, deny_member=3)
    _process_kind(s, SESSION_CLOSED)
    billing = b.data("SessionBilling", FILE, sessionId=s.sid)["sessionBilling"]
    assert sum(d["billed"] for d in billing["decisions"]) == 7 and len(billing["claims"]) == 7
    _process_kind(s, SUBMIT_CLAIMS)
    SimulatedClearinghouse(drop / s.clinic.schema_name).process()
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(drop / s.clinic.schema_name))
    member = s.group.members[0]
    (claim,) = b.data("MemberClaims", FILE, clientId=str(member.client_id))["memberClaims"]
    assert claim["status"] == "PAID" and claim["payments"][0]["outcome"] == "paid"
    assert claim["payerClaimNumber"]
    # The line as the payer answered it: 80% paid, the rest coinsurance (PR-2), on the date billed.
    (line,) = claim["payments"][0]["lines"]
    charge = Decimal(claim["totalCharge"])
    assert (line["procedure"], line["serviceDate"], Decimal(line["charge"])) == (
        claim["procedure"],
        claim["serviceDate"],
        charge,
    )
    assert Decimal(line["paid"]) == Decimal(claim["paidAmount"]) == charge * Decimal("0.80")
    assert [(a["group"], a["reason"], Decimal(a["amount"])) for a in line["adjustments"]] == [
        ("PR", "2", charge - Decimal(line["paid"]))
    ]
    voided = b.data("VoidClaim", FILE, claimId=claim["id"])["voidClaim"]
    assert voided["__typename"] == "ClaimResult"
    assert voided["claim"]["frequency"] == "8" and voided["claim"]["status"] == "READY"
    assert voided["claim"]["replacesClaimId"] == claim["id"]
    again = b.data("VoidClaim", FILE, claimId=claim["id"])["voidClaim"]
    assert again["__typename"] == "InvalidInput" and again["code"] == "not_correctable"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        statuses = {
            c.frequency: c.status.value
            for c in session.scalars(select(Claim).where(Claim.client_id == member.client_id))
        }
    assert statuses == {"1": "voided", "8": "ready"}
