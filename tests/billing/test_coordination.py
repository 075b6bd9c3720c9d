"""Coordination of benefits (pure): what the secondary payer is billed after the primary's answer."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from backend.billing.claims import Adjustment, Payer, ProfessionalClaim
from backend.billing.coordination import PrimaryAdjudication, secondary_claim, secondary_problems
from backend.billing.remittance import Outcome
from tests.billing.test_claims_837p import group_claim, group_line, member

PAID_80 = PrimaryAdjudication(
    outcome=Outcome.PAID,
    charge=Decimal("70.00"),
    paid=Decimal("56.00"),
    adjustments=(Adjustment("PR", "2", Decimal("14.00")),),
    adjudicated_on=date(2024, 3, 16),
)


def test_the_secondary_claim_bills_the_same_service_with_the_primarys_answer_and_no_prior_auth() -> None:
    """Same line and charge, a new claim id as an original, SBR01 S for the secondary member id, and the
    primary (member id, group, P) with what it paid and adjusted."""
    primary_member = member()
    secondary_member = dataclasses.replace(member("MCD7781"), group_number=None)
    subscriber, claim = secondary_claim(
        group_claim(frequency="7", original_claim_ref="PAYER-1"), primary_member,
        Payer("Northwoods Health", "NWH01"), secondary_member, PAID_80, "E2ND",
    )  # fmt: skip
    assert (subscriber.member_id, subscriber.payer_responsibility) == ("MCD7781", "S")
    assert (claim.claim_id, claim.frequency, claim.original_claim_ref, claim.prior_auth) == (
        "E2ND",
        "1",
        None,
        None,
    )
    assert claim.lines == group_claim().lines
    other = claim.other_payer
    assert other is not None
    assert (other.member_id, other.group_number, other.responsibility) == ("XJH400211", "WI-88120", "P")
    assert (other.paid, other.lines[0].paid, other.lines[0].adjustments) == (
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
