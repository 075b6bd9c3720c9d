"""835 remittance: per-member claim outcomes, CARC/RARC, and the balance checks pyx12 does not make."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from x12sdk.generate import generate_835

from backend.billing.remittance import (
    Adjustment,
    Outcome,
    RemittanceUnreadable,
    parse_835,
    parse_835_file,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_one_paid_and_one_denied_member_claim() -> None:
    """Each member's claim comes back on its own: one paid less copay and contract, one denied CO-197."""
    remittance = parse_835(fixture("835_paid_and_denied.x12"))
    assert remittance.problems == ()
    assert (remittance.payer_name, remittance.payer_id, remittance.payee_npi) == (
        "NORTHWIND HEALTH",
        "NWH77",
        "2453198709",
    )
    assert (remittance.check_number, remittance.payment_date, remittance.total_paid) == (
        "EFT55501",
        date(2024, 3, 6),
        Decimal("63.00"),
    )
    paid, denied = remittance.claims
    assert (paid.claim_id, paid.outcome, paid.paid, paid.patient_responsibility) == (
        "ENS-2024-0001",
        Outcome.PAID,
        Decimal("63.00"),
        Decimal("15.00"),
    )
    assert paid.payer_claim_number == "NWH240301A"
    assert paid.lines[0].adjustments == (
        Adjustment("CO", "45", Decimal("12.00")),
        Adjustment("PR", "3", Decimal("15.00")),
    )
    assert (paid.lines[0].procedure, paid.lines[0].modifiers, paid.lines[0].control_number) == (
        "90853",
        ("HQ",),
        "L1",
    )
    assert (denied.claim_id, denied.outcome, denied.paid) == (
        "ENS-2024-0002",
        Outcome.DENIED,
        Decimal("0.00"),
    )
    assert denied.reason_codes == ("CO-197", "N54", "M62")


def test_claim_level_denial_leaves_its_lines_unadjusted_without_a_problem() -> None:
    """CAS*CO*197 on the claim (not the line) balances the claim; the lines need no CAS of their own."""
    denied = parse_835(fixture("835_paid_and_denied.x12")).claims[1]
    assert denied.adjustments == (Adjustment("CO", "197", Decimal("90.00")),)
    assert denied.lines[0].adjustments == ()
    assert denied.remarks == ("N54",)


def test_partial_payment_reversal_and_interest_balance_the_check() -> None:
    """A denied duplicate line makes a claim partially paid; a reversal and PLB interest balance BPR02."""
    remittance = parse_835(fixture("835_partial_reversal_interest.x12"))
    assert remittance.problems == ()
    partial, reversal, corrected = remittance.claims
    assert partial.outcome is Outcome.PARTIALLY_PAID
    assert partial.lines[0].modifiers == ("HQ", "95")
    assert partial.lines[1].denied and partial.lines[1].remarks == ("N522",)
    assert (reversal.outcome, reversal.paid) == (Outcome.REVERSED, Decimal("-63.00"))
    assert (corrected.outcome, corrected.claim_id) == (Outcome.PAID, reversal.claim_id)
    assert [(p.reason, p.reference, p.amount) for p in remittance.provider_adjustments] == [
        ("L6", "NWH240318D", Decimal("-21.50"))
    ]


def test_unbalanced_claim_is_reported_and_the_rest_still_read() -> None:
    """x12sdk refuses the whole transaction; here it is a problem, both claims are read, no name leaks."""
    remittance = parse_835(fixture("835_unbalanced_claim.x12"))
    codes = {(p.field, p.code) for p in remittance.problems}
    assert ("claims[0]", "claim_not_balanced") in codes
    assert any(code == "x12sdk_rejected" for _, code in codes)
    assert [c.outcome for c in remittance.claims] == [Outcome.PAID, Outcome.DENIED]
    assert not any("TESTMEMBER" in p.message or "ALPHA" in p.message for p in remittance.problems)


def test_check_amount_not_matching_the_claims_is_a_problem() -> None:
    """BPR02 must equal the sum of CLP04 (less PLB); a wrong check total is flagged, not raised."""
    text = fixture("835_paid_and_denied.x12").replace("BPR*I*63*", "BPR*I*36*")
    remittance = parse_835(text)
    assert [(p.field, p.code) for p in remittance.problems] == [("totalPaid", "payment_not_balanced")]


def test_stream_read_equals_the_x12sdk_validated_read() -> None:
    """Skipping x12sdk (the fast path for big files) yields exactly the same values on valid files."""
    for name in ("835_paid_and_denied.x12", "835_partial_reversal_interest.x12"):
        assert parse_835(fixture(name), validate=False) == parse_835(fixture(name))


def test_a_third_party_generated_835_balances() -> None:
    """x12sdk's own generator (PLB included, both claim shapes) reads with no balance problem."""
    remittance = parse_835(generate_835(seed=11, claims=25))
    assert len(remittance.claims) == 25
    assert remittance.problems == ()


def test_a_file_with_two_payments_is_read_whole() -> None:
    """Two checks in one interchange: parse_835_file returns both, parse_835 refuses to pick one."""
    first, second = fixture("835_paid_and_denied.x12"), fixture("835_partial_reversal_interest.x12")
    start, end = second.index("ST*835"), second.index("GE*")
    text = first.replace("GE*1*", f"{second[start:end]}GE*2*")
    remittances = parse_835_file(text)
    assert [r.check_number for r in remittances] == ["EFT55501", "CHK88812"]
    with pytest.raises(RemittanceUnreadable):
        parse_835(text)


@pytest.mark.parametrize(
    "text", ["", "not x12 at all", (FIXTURES / "271_active_with_visit_limit.x12").read_text()]
)
def test_text_that_is_not_an_835_is_unreadable(text: str) -> None:
    """Empty, free text, or another transaction: a typed error, not a silent empty remittance."""
    with pytest.raises(RemittanceUnreadable):
        parse_835(text)
