"""The claim engine on the 8-member scenario: a closed record makes one claim per present member.

The session record is documented and signed through GraphQL (tests/documentation); the outbox row
it writes is processed as the worker would, over real PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.billing.corrections import replace_claim
from backend.billing.engine import SESSION_CLOSED, produce_claims
from backend.billing.models import (
    BillingDecision,
    Claim,
    ClaimFormat,
    ClaimStatus,
    EligibilityCheck,
    Payer,
    PayerRuleVersion,
)
from backend.billing.payer_rules import PayerRules, rules_as_json
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import CoveragePriority
from backend.database import Database
from backend.documentation.models import BillableEvent
from backend.settings import Settings
from backend.staff.models import StaffCredential, StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.factories import remove_from_final_record
from tests.documentation.test_session_record_graphql import Scenario, _signed_final, api  # noqa: F401
from tests.support import GraphQLClient

MEDICAID = PayerRules(
    group_modifier="HQ",
    credential_modifiers={"LCSW": "AJ"},
    fee_schedule={"90853": Decimal("45.00")},
)
COMMERCIAL = PayerRules(fee_schedule={"90853": Decimal("60.00")}, one_group_visit_per_day=True)


@pytest.fixture
def billed(
    api: GraphQLClient,  # noqa: F811
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> Scenario:
    """The scenario with two payers configured, diagnoses and an authorization, signed to FINAL."""
    s = Scenario(api, database, settings, make_clinic())
    with tenant_session(database.engine, s.clinic.schema_name) as session:
        payers = {}
        for name, code, rules in (
            ("Medicaid MCO", "MCD01", MEDICAID),
            ("Aetna Behavioral", "AET01", COMMERCIAL),
        ):
            payer = Payer(id=uuid.uuid4(), name=name, payer_code=code, claim_format=ClaimFormat.PROFESSIONAL)
            session.add(payer)
            session.flush()
            session.add(
                PayerRuleVersion(
                    id=uuid.uuid4(),
                    payer_id=payer.id,
                    effective_from=date(2026, 1, 1),
                    rules=rules_as_json(rules),
                )
            )
            payers[name] = payer.id
        for coverage in session.scalars(select(ClientCoverage)):
            coverage.payer_id = payers[coverage.payer_name]
        for i, member in enumerate(s.group.members):
            client = session.get_one(Client, member.client_id)
            client.sex, client.address_line1, client.city = "F", f"{10 + i} Elm St", "Portland"
            client.state, client.postal_code = "ME", "04101"
            session.add(
                ClientDiagnosis(
                    client_id=member.client_id, code="F33.1", is_primary=True, noted_on=date(2026, 1, 2)
                )
            )
            if i == 2:
                session.add(
                    ClientDiagnosis(client_id=member.client_id, code="F41.1", noted_on=date(2026, 1, 2))
                )
        lead = session.get_one(StaffMember, s.group.staff["lead"])
        lead.npi, lead.taxonomy = "1987654328", "1041C0700X"
        session.add(StaffCredential(staff_id=lead.id, credential="LCSW"))
        coverage = session.scalars(
            select(ClientCoverage).where(ClientCoverage.client_id == s.group.members[2].client_id)
        ).one()
        session.add(
            Authorization(
                client_id=coverage.client_id,
                coverage_id=coverage.id,
                reference="AUTH-77",
                sessions_authorized=12,
                sessions_used=3,
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
            )
        )
    _signed_final(s)
    return s


def _run_outbox(s: Scenario) -> None:
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        (row_id,) = session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == SESSION_CLOSED))
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert process(session, row_id)


def test_closing_the_record_produces_exactly_one_claim_per_present_member_with_each_payers_rules(
    billed: Scenario,
) -> None:
    """7 claims for 7 present; Medicaid's carry HQ and AJ, the commercial payer's neither; no-show: absent."""
    s = billed
    _run_outbox(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claims = {c.client_id: c for c in session.scalars(select(Claim))}
        decisions = {d.client_id: d for d in session.scalars(select(BillingDecision))}
        consumed = {e.consumed_at is not None for e in session.scalars(select(BillableEvent))}
        payer_names = {p.id: p.name for p in session.scalars(select(Payer))}
        auth = session.scalars(select(Authorization)).one()
    present = {m.client_id for m in s.group.members[:-1]}
    assert set(claims) == present
    assert len(decisions) == 8 and consumed == {True}
    no_show = decisions[s.no_show.client_id]
    assert not no_show.billed and [r["code"] for r in no_show.reasons] == ["absent"]
    for client_id, claim in claims.items():
        decision = decisions[client_id]
        line = claim.document["claim"]["lines"][0]
        assert line["procedure"] == "90853" and claim.document["claim"]["place_of_service"] == "11"
        if payer_names[claim.payer_id] == "Medicaid MCO":
            assert line["modifiers"] == ["HQ", "AJ"] and claim.total_charge == Decimal("45.00")
        else:
            assert line["modifiers"] == [] and claim.total_charge == Decimal("60.00")
        assert decision.billed and decision.code == "90853"
    member = s.group.members[2]
    assert claims[member.client_id].document["claim"]["diagnoses"] == ["F33.1", "F41.1"]
    assert claims[member.client_id].document["claim"]["prior_auth"] == "AUTH-77"
    assert auth.sessions_used == 4, "the session uses one authorized session"


def test_a_claim_uses_only_an_authorization_of_the_coverage_it_bills(billed: Scenario) -> None:
    """The member's secondary plan also authorized sessions, ending sooner: the claim to the primary
    payer still names (and uses) AUTH-77, the primary coverage's, and leaves the secondary's alone."""
    s = billed
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        secondary = ClientCoverage(
            id=uuid.uuid4(), client_id=member, priority=CoveragePriority.SECONDARY, payer_name="Medicaid",
            member_id="MCD-2",
        )  # fmt: skip
        session.add(secondary)
        session.flush()
        session.add(
            Authorization(
                client_id=member, coverage_id=secondary.id, reference="SEC-1", sessions_authorized=12,
                sessions_used=0, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 30),
            )
        )  # fmt: skip
    _run_outbox(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claim = session.scalars(select(Claim).where(Claim.client_id == member)).one()
        used = {a.reference: a.sessions_used for a in session.scalars(select(Authorization))}
    assert claim.document["claim"]["prior_auth"] == "AUTH-77"
    assert used == {"AUTH-77": 4, "SEC-1": 0}


def test_a_member_who_changed_payer_is_billed_to_the_new_one_without_the_old_payers_history(
    billed: Scenario,
) -> None:
    """After AUTH-77 and an "inactive" 271 were recorded under member 2's payer, the biller enters
    their new insurance with the other payer: the old coverage is ended, not rewritten, so the claim
    goes to the new payer quoting no prior authorization, the old payer's answer does not refuse it,
    AUTH-77 stays unused and is listed as history, and the ended coverage takes no new authorization."""
    s = billed
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        old = session.scalars(select(ClientCoverage).where(ClientCoverage.client_id == member)).one()
        new_payer = session.scalars(select(Payer).where(Payer.id != old.payer_id)).one()
        session.add(EligibilityCheck(client_id=member, coverage_id=old.id, status="inactive"))
    coverage = {
        "priority": "PRIMARY",
        "payerName": new_payer.name,
        "memberId": "NEW-1",
        "payerId": str(new_payer.id),
    }
    changed = s.biller.data(
        "SetCoverage", "clients.graphql", input={"clientId": str(member), "coverage": coverage}
    )["setCoverage"]
    assert changed["__typename"] == "ClientChanged"
    shown = s.biller.data("GetClientCoverage", "clients.graphql", id=changed["client"]["id"])["node"]
    (current,) = shown["coverages"]
    assert current["id"] != str(old.id) and current["payerName"] == new_payer.name
    history = s.biller.data(
        "GetClientCoverage", "clients.graphql", id=changed["client"]["id"], includeEnded=True
    )["node"]["coverages"]
    assert [(c["id"], c["endedAt"] is None) for c in history] == [(current["id"], True), (str(old.id), False)]

    _run_outbox(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claim = session.scalars(select(Claim).where(Claim.client_id == member)).one()
        decision = session.scalars(select(BillingDecision).where(BillingDecision.client_id == member)).one()
        auth = session.scalars(select(Authorization)).one()
    assert claim.payer_id == new_payer.id and claim.document["claim"]["prior_auth"] is None
    assert decision.billed and [r["code"] for r in decision.reasons] == ["eligibility_unknown"]
    assert auth.sessions_used == 3

    listed = s.biller.data("Authorizations", "authorizations.graphql", clientId=str(member))["authorizations"]
    assert [(a["reference"], a["coverageEnded"], a["active"]) for a in listed] == [("AUTH-77", True, False)]
    draft = {
        "clientId": str(member), "coverageId": str(old.id), "reference": "LATE-1", "sessionsAuthorized": 4,
        "startsOn": "2026-01-01", "endsOn": "2026-12-31",
    }  # fmt: skip
    refused = [
        s.biller.data("AddAuthorization", "authorizations.graphql", input=draft)["addAuthorization"],
        s.biller.data("SetCoverageVisitCap", "authorizations.graphql", coverageId=str(old.id), visitCap=20)[
            "setCoverageVisitCap"
        ],
        s.biller.data(
            "SetCoveragePayer", "billing.graphql", coverageId=str(old.id), payerId=str(new_payer.id)
        )["setCoveragePayer"],
    ]
    assert [[(e["field"], e["code"]) for e in r["errors"]] for r in refused] == [
        [("coverageId", "coverage_ended")]
    ] * 3


def test_running_the_engine_again_never_duplicates_a_claim_or_an_authorization_use(billed: Scenario) -> None:
    """A retried job (or a worker killed after a partial run) finds the claims and leaves them as they are."""
    s = billed
    _run_outbox(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        produce_claims(session, s.group.session_id)
        produce_claims(session, s.group.session_id)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert len(list(session.scalars(select(Claim)))) == 7
        assert session.scalars(select(Authorization)).one().sessions_used == 4


def test_deciding_a_billed_session_again_sees_the_authorization_as_it_was_before_it(billed: Scenario) -> None:
    """AUTH-77's last session went to this claim: a re-run still decides the member billed (its own
    use is not counted against it) and uses nothing more."""
    s = billed
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.scalars(select(Authorization)).one().sessions_authorized = 4
        coverage = session.scalars(select(ClientCoverage).where(ClientCoverage.client_id == member)).one()
        version = session.scalars(
            select(PayerRuleVersion).where(PayerRuleVersion.payer_id == coverage.payer_id)
        ).one()
        version.rules = {**version.rules, "authorization_required": True}
    _run_outbox(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        produce_claims(session, s.group.session_id)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        decision = session.scalars(select(BillingDecision).where(BillingDecision.client_id == member)).one()
        assert decision.billed, decision.reasons
        assert session.scalars(select(Authorization)).one().sessions_used == 4


def test_removing_a_member_whose_claim_awaits_replacement_voids_the_payers_claim(billed: Scenario) -> None:
    """The payer paid PAYER-1 and its replacement is not sent yet when the member is taken off the
    record: the replacement goes out as the void of PAYER-1 instead, and the session is given back."""
    s = billed
    _run_outbox(s)
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        original = session.scalars(select(Claim).where(Claim.client_id == member)).one()
        original.status, original.payer_claim_number = ClaimStatus.PAID, "PAYER-1"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        replacement = replace_claim(session, original.id)
    remove_from_final_record(s.database, s.clinic, s.group.session_id, member)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        void = session.get_one(Claim, replacement.id)
        assert (void.frequency, void.status) == ("8", ClaimStatus.READY)
        assert void.document["claim"]["original_claim_ref"] == "PAYER-1"
        assert session.get_one(Claim, original.id).status == ClaimStatus.VOIDED
        assert session.scalars(select(Authorization)).one().sessions_used == 3


def test_a_replacement_claim_carries_the_authorization_the_original_used(billed: Scenario) -> None:
    """After AUTH-77 ran out and AUTH-88 took over, correcting the session's claim (frequency 7) still
    names AUTH-77: the replacement corrects the original service, which that authorization covered."""
    s = billed
    _run_outbox(s)
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        original = session.scalars(select(Claim).where(Claim.client_id == member)).one()
        original.status, original.payer_claim_number = ClaimStatus.PAID, "PAYER-1"
        used = session.scalars(select(Authorization)).one()
        used.sessions_used = used.sessions_authorized
        session.add(
            Authorization(
                client_id=member, coverage_id=used.coverage_id, reference="AUTH-88", sessions_authorized=12,
                sessions_used=0, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
            )
        )  # fmt: skip
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        replacement = replace_claim(session, original.id)
    assert replacement.frequency == "7" and replacement.authorization_id == used.id
    assert replacement.document["claim"]["prior_auth"] == "AUTH-77"
