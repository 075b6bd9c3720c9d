"""Coordination of benefits (pure): what the secondary payer is billed after the primary's answer."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from backend.billing.claims import Adjustment, Payer, ProfessionalClaim
from backend.billing.coordination import Coding, PrimaryAdjudication, secondary_claim, secondary_problems
from backend.billing.remittance import Outcome
from tests.billing.test_claims_837p import group_claim, group_line, member

PAID_80 = PrimaryAdjudication(
    outcome=Outcome.PAID,
    charge=Decimal("70.00"),
    paid=Decimal("56.00"),
    adjustments=(Adjustment("PR", "2", Decimal("14.00")),),
    adjudicated_on=date(2024, 3, 16),
)


def test_the_secondary_claim_bills_the_same_service_coded_by_its_payer_with_the_primarys_answer() -> None:
    """Same procedure and charge under a new claim id, an original without the primary's prior auth,
    coded by the secondary's rules (HQ, AJ; POS 02), SBR01 S for the secondary member id; the primary
    (member id, group, P) with what it paid and adjusted on the line as it billed it (90853:HQ, POS 11)."""
    subscriber, claim = secondary_claim(
        group_claim(frequency="7", original_claim_ref="PAYER-1"), member(),
        Payer("Northwoods Health", "NWH01"), dataclasses.replace(member("MCD7781"), group_number=None),
        PAID_80, Coding("02", ("HQ", "AJ")), "E2ND",
    )  # fmt: skip
    assert (subscriber.member_id, subscriber.payer_responsibility) == ("MCD7781", "S")
    assert (claim.claim_id, claim.frequency, claim.original_claim_ref, claim.prior_auth) == (
        "E2ND",
        "1",
        None,
        None,
    )
    (line,) = claim.lines
    assert (claim.place_of_service, line.place_of_service, line.modifiers) == ("02", "02", ("HQ", "AJ"))
    assert (line.procedure, line.charge) == ("90853", Decimal("70.00"))
    other = claim.other_payer
    assert other is not None
    assert (other.member_id, other.group_number, other.responsibility) == ("XJH400211", "WI-88120", "P")
    (adjudicated,) = other.lines
    assert (adjudicated.procedure, adjudicated.modifiers) == ("90853", ("HQ",))
    assert (other.paid, adjudicated.paid, adjudicated.adjustments) == (
        Decimal("56.00"),
        Decimal("56.00"),
        PAID_80.adjustments,
    )


@pytest.mark.parametrize(
    ("claim", "adjudication", "code"),
    [
        (group_claim(), dataclasses.replace(PAID_80, outcome=Outcome.REVERSED), "not_adjudicated"),
        (
            group_claim(),
            dataclasses.replace(PAID_80, paid=Decimal("70.00"), adjustments=()),
            "nothing_owed",
        ),
        (group_claim(lines=(group_line(), group_line(procedure="90785"))), PAID_80, "several_lines"),
        (group_claim(), dataclasses.replace(PAID_80, adjustments=()), "unbalanced"),
    ],
    ids=["reversal", "paid_in_full", "two_lines", "adjustments_missing"],
)
def test_nothing_is_billed_to_the_secondary_without_a_balanced_answer_leaving_something_owed(
    claim: ProfessionalClaim, adjudication: PrimaryAdjudication, code: str
) -> None:
    assert [p.code for p in secondary_problems(claim, adjudication)] == [code]


def test_a_denial_leaves_the_whole_charge_to_the_secondary() -> None:
    """Denied by the primary (paid 0, CO-50): the secondary can be billed."""
    denied = PrimaryAdjudication(
        Outcome.DENIED,
        Decimal("70.00"),
        Decimal("0"),
        (Adjustment("CO", "50", Decimal("70.00")),),
        date(2024, 3, 16),
    )
    assert secondary_problems(group_claim(), denied) == []
