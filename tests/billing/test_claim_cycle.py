"""Claims to the clearinghouse and back: 837P batches per payer, 999/277CA acknowledgements, an 835.

The clearinghouse is a file drop answered by tests/billing/simulated_clearinghouse.py (a payer that
pays 80% and denies member ids starting with DENY); our database, outbox handlers and writers run
for real. Also: a claim run that dies half-way leaves nothing, and its retry makes each claim once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.billing import engine
from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.engine import SESSION_CLOSED, SUBMIT_CLAIMS
from backend.billing.models import (
    Claim,
    ClaimBatch,
    ClaimPayment,
    ClaimStatus,
    Payer,
    PayerRuleVersion,
    Remittance,
)
from backend.billing.submission import process_responses, submit_ready_claims, use_clearinghouse
from backend.billing.x12.validation import pyx12_errors
from backend.clients.models import Authorization, ClientCoverage
from backend.clients.rules import CoveragePriority
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.factories import billing_provider
from tests.billing.simulated_clearinghouse import SimulatedClearinghouse
from tests.billing.test_engine import billed  # noqa: F401
from tests.documentation.test_session_record_graphql import Scenario, api  # noqa: F401


@pytest.fixture
def drop(tmp_path: Path) -> Iterator[Path]:
    previous = use_clearinghouse(lambda schema: FileDropClearinghouse(tmp_path / schema))
    yield tmp_path
    use_clearinghouse(previous)


def _process_kind(s: Scenario, kind: str) -> None:
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        rows = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == kind)))
    assert rows, f"no {kind} row"
    for row_id in rows:
        with tenant_session(s.database.engine, s.clinic.schema_name) as session:
            process(session, row_id)


def _configure(s: Scenario, deny_member: int) -> None:
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(billing_provider())
        coverage = session.scalars(
            select(ClientCoverage).where(ClientCoverage.client_id == s.group.members[deny_member].client_id)
        ).one()
        coverage.member_id = "DENY0042"


def test_claims_go_out_in_one_valid_batch_per_payer_and_the_835_pays_and_denies_per_member(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """Two payers -> two 837P files passing pyx12; 277CA accepts; the 835 pays six claims and denies one."""
    s = billed
    _configure(s, deny_member=3)
    _process_kind(s, SESSION_CLOSED)
    _process_kind(s, SUBMIT_CLAIMS)
    outbox = drop / s.clinic.schema_name / "outbox"
    files = sorted(outbox.glob("*.x12"))
    assert len(files) == 2
    assert all(pyx12_errors(f.read_text()) == [] for f in files)
    simulated = SimulatedClearinghouse(drop / s.clinic.schema_name)
    assert simulated.process() == 2
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert process_responses(session, FileDropClearinghouse(drop / s.clinic.schema_name)) >= 4
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claims = {c.client_id: c for c in session.scalars(select(Claim))}
        batches = list(session.scalars(select(ClaimBatch)))
        payments = list(session.scalars(select(ClaimPayment)))
        remittances = list(session.scalars(select(Remittance)))
    assert {b.status for b in batches} == {"accepted"} and sum(b.claim_count for b in batches) == 7
    denied = claims[s.group.members[3].client_id]
    assert denied.status == ClaimStatus.DENIED and denied.paid_amount == Decimal("0")
    denial = next(p for p in payments if p.claim_id == denied.id)
    assert any(a["reason"] == "50" for a in denial.adjustments)
    paid = [c for cid, c in claims.items() if cid != denied.client_id]
    assert {c.status for c in paid} == {ClaimStatus.PAID}
    assert all(c.paid_amount == (c.total_charge * Decimal("0.80")).quantize(Decimal("0.01")) for c in paid)
    assert len(remittances) >= 1 and all(r.problems == [] for r in remittances)


def test_a_claim_run_that_dies_half_way_stores_nothing_and_its_retry_makes_each_claim_once(
    billed: Scenario,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's work is one transaction: killed after 3 claims, nothing is kept; the retry makes 7."""
    s = billed
    real_build = engine.build_claim
    made = 0

    def dying(*args: object) -> object:
        nonlocal made
        made += 1
        if made == 4:
            raise RuntimeError("worker killed")
        return real_build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "build_claim", dying)
    with pytest.raises(RuntimeError), tenant_session(s.database.engine, s.clinic.schema_name) as session:
        (row_id,) = session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == SESSION_CLOSED))
        process(session, row_id)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert list(session.scalars(select(Claim))) == []
    monkeypatch.setattr(engine, "build_claim", real_build)
    _process_kind(s, SESSION_CLOSED)
    _process_kind(s, SESSION_CLOSED)  # a duplicate delivery: already processed, nothing more
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert len(list(session.scalars(select(Claim)))) == 7
        assert session.scalars(select(Authorization)).one().sessions_used == 4


def test_a_backlog_goes_out_in_several_files_per_payer(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """With at most 2 claims a file, 7 claims for 2 payers leave in 4 valid files, each claim once."""
    s = billed
    _configure(s, deny_member=3)
    _process_kind(s, SESSION_CLOSED)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        sent = submit_ready_claims(session, FileDropClearinghouse(drop / s.clinic.schema_name), per_file=2)
    assert sorted(b.claim_count for b in sent) == [1, 2, 2, 2]
    assert len({b.interchange_control_number for b in sent}) == 4
    files = list((drop / s.clinic.schema_name / "outbox").glob("*.x12"))
    assert len(files) == 4 and all(pyx12_errors(f.read_text()) == [] for f in files)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert {c.status for c in session.scalars(select(Claim))} == {ClaimStatus.SUBMITTED}


def test_a_member_with_a_secondary_plan_is_billed_to_it_with_what_the_primary_paid(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """Member 2 also has the other payer as secondary: posting the primary's 835 (80% paid, the rest
    coinsurance) makes one claim to the secondary for the same service, coded by the secondary's rules
    and carrying what the primary paid and adjusted on the line as the primary was billed it; it goes
    out in its own valid 837P (SBR*S, 2320/2330, 2430), the secondary's 835 pays it, and posting the
    files again bills nobody twice."""
    s = billed
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(billing_provider())
        primary_coverage = session.scalars(
            select(ClientCoverage).where(ClientCoverage.client_id == member)
        ).one()
        second = session.scalars(select(Payer).where(Payer.id != primary_coverage.payer_id)).one()
        primary_payer = session.get_one(Payer, primary_coverage.payer_id)
        secondary_coverage = ClientCoverage(
            client_id=member, priority=CoveragePriority.SECONDARY, payer_name=second.name,
            member_id="SEC-2002", payer_id=second.id,
        )  # fmt: skip
        session.add(secondary_coverage)
        session.flush()
        session.add(
            Authorization(
                client_id=member, coverage_id=secondary_coverage.id, reference="SEC-PA-9",
                sessions_authorized=6, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
            )
        )  # fmt: skip
    _process_kind(s, SESSION_CLOSED)
    _process_kind(s, SUBMIT_CLAIMS)
    folder = drop / s.clinic.schema_name
    simulated = SimulatedClearinghouse(folder)
    simulated.process()
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        primary = session.scalars(
            select(Claim).where(Claim.client_id == member, Claim.responsibility == "primary")
        ).one()
        secondary = session.scalars(select(Claim).where(Claim.responsibility == "secondary")).one()
        sent = submit_ready_claims(session, FileDropClearinghouse(folder))
    assert primary.status == ClaimStatus.PAID and primary.paid_amount is not None
    assert (secondary.client_id, secondary.payer_id, secondary.primary_claim_id) == (
        member,
        second.id,
        primary.id,
    )
    assert secondary.total_charge == primary.total_charge and secondary.status == ClaimStatus.SUBMITTED
    other = secondary.document["claim"]["other_payer"]
    assert (
        other["payer"]["payer_id"] == primary_payer.payer_code
        and Decimal(other["paid"]) == primary.paid_amount
    )

    (batch,) = sent
    text = next(f for f in (folder / "outbox").glob("*.x12") if batch.file_name in f.name).read_text()
    assert pyx12_errors(text) == []
    lines = text.replace("\n", "").split("~")
    coinsurance = primary.total_charge - primary.paid_amount
    assert "SBR*S*18" in "~".join(lines) and "NM1*IL*1*" in "~".join(lines)
    assert any(x.startswith("NM1*IL*1*") and x.endswith("*MI*SEC-2002") for x in lines)
    assert f"AMT*D*{format(primary.paid_amount.normalize(), 'f')}" in lines
    # The secondary coverage's own authorization, quoted and used once; the primary's AUTH-77 is not.
    assert "REF*G1*SEC-PA-9" in lines and "REF*G1*AUTH-77" not in lines
    # Each payer's own coding of the line: Medicaid's HQ and the facilitator's AJ, none for the other.
    medicaid, commercial = "HC:90853:HQ:AJ", "HC:90853"
    billed_as, adjudicated_as = (
        (medicaid, commercial) if second.name == "Medicaid MCO" else (commercial, medicaid)
    )
    assert [x.split("*")[1] for x in lines if x.startswith("SV1*")] == [billed_as]
    assert [x.split("*")[3] for x in lines if x.startswith(f"SVD*{primary_payer.payer_code}*")] == [
        adjudicated_as
    ]
    assert f"CAS*PR*2*{format(coinsurance.normalize(), 'f')}" in lines

    simulated.process()
    for _ in range(2):  # the files posted twice: nothing billed twice
        with tenant_session(s.database.engine, s.clinic.schema_name) as session:
            process_responses(session, FileDropClearinghouse(folder))
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        by_responsibility = [
            c.responsibility for c in session.scalars(select(Claim).where(Claim.client_id == member))
        ]
        paid_secondary = session.get_one(Claim, secondary.id)
    assert sorted(by_responsibility) == ["primary", "secondary"]
    assert paid_secondary.status == ClaimStatus.PAID
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        used = {a.reference: a.sessions_used for a in session.scalars(select(Authorization))}
    assert used == {"AUTH-77": 4, "SEC-PA-9": 1}

    # Corrected later: rebuilt from the primary's answer, to the payer's claim, with the same authorization.
    replaced = s.biller.data("ReplaceClaim", "billing.graphql", claimId=str(secondary.id))["replaceClaim"]
    assert replaced["__typename"] == "ClaimResult", replaced
    claim = replaced["claim"]
    assert (claim["frequency"], claim["responsibility"], claim["replacesClaimId"]) == (
        "7",
        "secondary",
        str(secondary.id),
    )
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        successor = session.get_one(Claim, uuid.UUID(claim["id"]))
        body = successor.document["claim"]
        used_after = session.scalars(
            select(Authorization.sessions_used).where(Authorization.reference == "SEC-PA-9")
        ).one()
    assert (body["original_claim_ref"], body["prior_auth"], used_after) == (
        paid_secondary.payer_claim_number,
        "SEC-PA-9",
        1,
    )
    assert body["other_payer"]["paid"] == other["paid"]


def test_a_biller_bills_a_secondary_entered_after_the_835_and_is_told_why_not_otherwise(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """No secondary on file when the 835 came: nothing is billed to it. Entered later, billSecondary
    makes the claim (once: again is already_billed); a member with no secondary, a claim the payer has
    not answered and an unknown claim each get their typed reason."""
    s = billed
    late, other = s.group.members[2].client_id, s.group.members[4].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(billing_provider())
    _process_kind(s, SESSION_CLOSED)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        unanswered = session.scalars(select(Claim).where(Claim.client_id == other)).one().id
    not_yet = s.biller.data("BillSecondary", "billing.graphql", claimId=str(unanswered))["billSecondary"]
    _process_kind(s, SUBMIT_CLAIMS)
    folder = drop / s.clinic.schema_name
    SimulatedClearinghouse(folder).process()
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))
        assert session.scalars(select(Claim).where(Claim.responsibility == "secondary")).all() == []
        primary = session.scalars(select(Claim).where(Claim.client_id == late)).one()
        second = session.scalars(select(Payer).where(Payer.id != primary.payer_id)).one()
        session.add(
            ClientCoverage(
                client_id=late, priority=CoveragePriority.SECONDARY, payer_name=second.name,
                member_id="SEC-77", payer_id=second.id,
            )
        )  # fmt: skip

    def bill(claim_id: object) -> dict[str, object]:
        return dict(s.biller.data("BillSecondary", "billing.graphql", claimId=str(claim_id))["billSecondary"])

    def secondary_requires_authorization(required: bool) -> None:
        with tenant_session(s.database.engine, s.clinic.schema_name) as session:
            version = session.scalars(
                select(PayerRuleVersion).where(PayerRuleVersion.payer_id == second.id)
            ).one()
            version.rules = {**version.rules, "authorization_required": required}

    secondary_requires_authorization(True)
    unauthorized = bill(primary.id)
    assert (unauthorized["__typename"], unauthorized["errors"][0]["code"]) == (
        "InvalidInput",
        "no_active_authorization",
    )
    secondary_requires_authorization(False)
    made = bill(primary.id)
    assert made["__typename"] == "ClaimResult", made
    claim = made["claim"]
    assert (claim["responsibility"], claim["primaryClaimId"], claim["status"]) == (
        "secondary",
        str(primary.id),
        "READY",
    )
    assert claim["client"]["id"] and claim["totalCharge"] == f"{primary.total_charge:.2f}"
    problems = [bill(primary.id), bill(session_claim(s, other)), not_yet]
    assert [(p["__typename"], p["errors"][0]["code"]) for p in problems] == [
        ("InvalidInput", "already_billed"),
        ("InvalidInput", "no_secondary_coverage"),
        ("InvalidInput", "not_adjudicated"),
    ]
    assert bill(uuid.uuid4())["__typename"] == "NotFound"


def test_the_secondary_work_list_shows_each_answered_balance_and_what_holds_it_until_billed(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """After the 835 (80% paid), a secondary entered for member 2 puts their claim on the billers'
    list with what is owed and why billSecondary would refuse it (the secondary requires an
    authorization); once the secondary has one, the entry is ready; billed, it leaves the list.
    Members with no secondary never appear."""
    s = billed
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(billing_provider())
    _process_kind(s, SESSION_CLOSED)
    _process_kind(s, SUBMIT_CLAIMS)
    folder = drop / s.clinic.schema_name
    SimulatedClearinghouse(folder).process()
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))
        primary = session.scalars(select(Claim).where(Claim.client_id == member)).one()
        second = session.scalars(select(Payer).where(Payer.id != primary.payer_id)).one()
        version = session.scalars(
            select(PayerRuleVersion).where(PayerRuleVersion.payer_id == second.id)
        ).one()
        version.rules = {**version.rules, "authorization_required": True}

    def pending() -> list[dict[str, object]]:
        answer = s.biller.data("SecondaryClaimsPending", "billing.graphql")["secondaryClaimsPending"]
        return list(answer)

    assert pending() == [], "nobody has a secondary coverage yet"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        coverage = ClientCoverage(
            client_id=member, priority=CoveragePriority.SECONDARY, payer_name=second.name,
            member_id="SEC-88", payer_id=second.id,
        )  # fmt: skip
        session.add(coverage)
    (held,) = pending()
    assert primary.paid_amount is not None
    assert held["claim"]["id"] == str(primary.id) and held["claim"]["client"]["id"]
    assert held["owed"] == f"{primary.total_charge - primary.paid_amount:.2f}"
    assert held["blockedBy"]["code"] == "no_active_authorization"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(
            Authorization(
                client_id=member, coverage_id=coverage.id, reference="SEC-PA-1",
                sessions_authorized=4, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
            )
        )  # fmt: skip
    (ready,) = pending()
    assert ready["blockedBy"] is None
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        used = session.scalars(
            select(Authorization.sessions_used).where(Authorization.reference == "SEC-PA-1")
        )
        assert used.one() == 0, "the list checks, it uses nothing"
    made = s.biller.data("BillSecondary", "billing.graphql", claimId=str(primary.id))["billSecondary"]
    assert made["__typename"] == "ClaimResult", made
    assert pending() == []
    refused = s.biller.run("SecondaryClaimsPending", "billing.graphql", first=0)
    assert refused["errors"] and "first" in refused["errors"][0]["message"]


def _secondary_made(
    s: Scenario, drop: Path, authorized: int = 0
) -> tuple[SimulatedClearinghouse, Path, Claim]:
    """Member 2's secondary (the other payer, no authorization needed; `authorized` sessions of one
    if given) billed after the primary's 835 paid 80%; returns the simulated clearinghouse, its
    folder and the primary claim."""
    member = s.group.members[2].client_id
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        session.add(billing_provider())
        primary_payer = session.scalars(
            select(ClientCoverage.payer_id).where(ClientCoverage.client_id == member)
        ).one()
        second = session.scalars(select(Payer).where(Payer.id != primary_payer)).one()
        coverage = ClientCoverage(
            client_id=member, priority=CoveragePriority.SECONDARY, payer_name=second.name,
            member_id="SEC-31", payer_id=second.id,
        )  # fmt: skip
        session.add(coverage)
        session.flush()
        if authorized:
            session.add(
                Authorization(
                    client_id=member, coverage_id=coverage.id, reference="SEC-PA-5",
                    sessions_authorized=authorized, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                )
            )  # fmt: skip
    _process_kind(s, SESSION_CLOSED)
    _process_kind(s, SUBMIT_CLAIMS)
    folder = drop / s.clinic.schema_name
    simulated = SimulatedClearinghouse(folder)
    simulated.process()
    _post(s, folder)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        primary = session.scalars(
            select(Claim).where(Claim.client_id == member, Claim.responsibility == "primary")
        ).one()
    return simulated, folder, primary


def _post(s: Scenario, folder: Path) -> None:
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        process_responses(session, FileDropClearinghouse(folder))


def _secondaries(s: Scenario) -> list[tuple[str, ClaimStatus, Decimal, str | None]]:
    """Each secondary claim as (frequency, status, the primary's payment it quotes, the claim it corrects)."""
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        claims = session.scalars(
            select(Claim).where(Claim.responsibility == "secondary").order_by(Claim.created_at)
        )
        return [
            (
                c.frequency,
                c.status,
                Decimal(c.document["claim"]["other_payer"]["paid"]),
                c.document["claim"]["original_claim_ref"],
            )
            for c in claims
        ]


def test_a_primary_payment_reversed_and_paid_again_moves_the_unsent_secondary_claim_with_it(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """One 835 reverses the primary's 80% and pays 90%: both answers are kept, and the unsent secondary
    claim now quotes 90%. A reversal alone holds it back from the next batch; paid in full at last,
    nothing is owed and it is withdrawn, never sent."""
    s = billed
    simulated, folder, primary = _secondary_made(s, drop)
    charge = primary.total_charge
    ((_, status, quoted, _),) = _secondaries(s)
    assert (status, quoted) == (ClaimStatus.READY, charge * Decimal("0.80"))

    simulated.readjudicate(primary.claim_number, Decimal("0.90"))
    _post(s, folder)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        answered = session.get_one(Claim, primary.id)
        outcomes = session.scalars(
            select(ClaimPayment.outcome)
            .where(ClaimPayment.claim_id == primary.id)
            .order_by(ClaimPayment.created_at)
        ).all()
    assert outcomes == ["paid", "reversed", "paid"]
    assert (answered.status, answered.paid_amount) == (ClaimStatus.PAID, charge * Decimal("0.90"))
    assert _secondaries(s) == [("1", ClaimStatus.READY, charge * Decimal("0.90"), None)]

    simulated.readjudicate(primary.claim_number, None)
    _post(s, folder)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert session.get_one(Claim, primary.id).status == ClaimStatus.ACCEPTED
        assert submit_ready_claims(session, FileDropClearinghouse(folder)) == []
    assert _secondaries(s) == [("1", ClaimStatus.READY, charge * Decimal("0.90"), None)], "held, unsent"

    simulated.readjudicate(primary.claim_number, Decimal("1.00"))
    _post(s, folder)
    assert _secondaries(s) == [("1", ClaimStatus.VOIDED, charge * Decimal("0.90"), None)]


def test_a_sent_secondary_claim_is_replaced_when_the_primary_pays_again(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """The secondary payer has its claim when the primary reverses 80% and pays 90%: a frequency-7
    claim naming the secondary payer's claim number quotes 90% and goes out in a valid 837P."""
    s = billed
    simulated, folder, primary = _secondary_made(s, drop)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        submit_ready_claims(session, FileDropClearinghouse(folder))
    simulated.process()
    _post(s, folder)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        first = session.scalars(select(Claim).where(Claim.responsibility == "secondary")).one()
    assert first.status == ClaimStatus.PAID and first.payer_claim_number

    simulated.readjudicate(primary.claim_number, Decimal("0.90"))
    _post(s, folder)
    charge = primary.total_charge
    assert _secondaries(s) == [
        ("1", ClaimStatus.REPLACED, charge * Decimal("0.80"), None),
        ("7", ClaimStatus.READY, charge * Decimal("0.90"), first.payer_claim_number),
    ]
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        (batch,) = submit_ready_claims(session, FileDropClearinghouse(folder))
    text = next((folder / "outbox").glob(f"*{batch.file_name}*.x12")).read_text()
    assert pyx12_errors(text) == [] and f"REF*F8*{first.payer_claim_number}~" in text.replace("\n", "")


def test_voiding_a_primary_claim_withdraws_the_secondary_claim_that_quoted_it(
    billed: Scenario,  # noqa: F811
    drop: Path,
) -> None:
    """The biller voids member 2's paid primary claim (billed in error): the unsent secondary claim
    quoting its payment is withdrawn with it, never sent, and its authorization use given back."""
    s = billed
    _, folder, primary = _secondary_made(s, drop, authorized=4)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        (secondary,) = session.scalars(select(Claim).where(Claim.responsibility == "secondary"))
        auth = session.scalars(select(Authorization).where(Authorization.reference == "SEC-PA-5")).one()
        assert (secondary.authorization_id, auth.sessions_used) == (auth.id, 1)
    voided = s.biller.data("VoidClaim", "billing.graphql", claimId=str(primary.id))["voidClaim"]
    assert voided["__typename"] == "ClaimResult" and voided["claim"]["frequency"] == "8"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert session.get_one(Claim, secondary.id).status == ClaimStatus.VOIDED
        assert session.get_one(Authorization, auth.id).sessions_used == 0
        sent = submit_ready_claims(session, FileDropClearinghouse(folder))
    assert [b.claim_count for b in sent] == [1], "only the primary's void goes out"


def session_claim(s: Scenario, client_id: uuid.UUID) -> uuid.UUID:
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        return session.scalars(select(Claim.id).where(Claim.client_id == client_id)).one()
