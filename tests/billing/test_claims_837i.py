"""837I institutional claims for IOP/PHP: a member's program week as one claim, Medicare IOP, corrections.

Every file written here passes pyx12 with zero errors and the project's own checks.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backend.billing.claims import (
    Adjustment,
    ClaimFrequency,
    InstitutionalClaim,
    LineAdjudication,
    OtherPayer,
    Payer,
    ServiceLine,
)
from backend.billing.x12.checks import ClaimRejected
from backend.billing.x12.claim_837i import write_837i
from tests.billing.test_claims_837p import (
    assert_valid_file,
    batch_of,
    group_claim,
    member,
    segments,
    tagged,
    therapist,
)

MONDAY = date(2024, 3, 11)
WEEK = [MONDAY + timedelta(days=offset) for offset in range(5)]
MEDICARE = Payer("Medicare Part A WI", "06201", "MA")


def iop_day(day: date, **changes: Any) -> ServiceLine:
    line = ServiceLine(day, "S9480", (), Decimal("250.00"), 1, revenue_code="0905")
    return dataclasses.replace(line, **changes)


def iop_week(claim_id: str = "IOP-240311-01", **changes: Any) -> InstitutionalClaim:
    claim = InstitutionalClaim(
        claim_id=claim_id,
        frequency=ClaimFrequency.ORIGINAL,
        original_claim_ref=None,
        type_of_bill="0131",
        statement_from=WEEK[0],
        statement_to=WEEK[-1],
        admission_date=date(2024, 2, 26),
        patient_status="01",
        condition_codes=(),
        diagnoses=("F33.2", "F41.1"),
        lines=tuple(iop_day(day) for day in WEEK),
        attending=therapist(),
        prior_auth="IOP-AUTH-5521",
    )
    return dataclasses.replace(claim, **changes)


def test_iop_week_is_one_claim_with_a_0905_s9480_line_per_day() -> None:
    """Monday to Friday of IOP: TOB 013x, statement period Mon-Fri, five 0905/S9480 lines summing to CLM02."""
    batch = batch_of((member(), iop_week()))
    text = write_837i(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "ST")[0] == "ST*837*0001*005010X223A2"
    assert tagged(text, "CLM") == ["CLM*IOP-240311-01*1250***13:A:1**A*Y*Y"]
    assert tagged(text, "DTP")[:2] == ["DTP*434*RD8*20240311-20240315", "DTP*435*D8*20240226"]
    assert tagged(text, "CL1", "HI") == ["CL1*3*1*01", "HI*ABK:F332", "HI*ABF:F411"]
    assert tagged(text, "SV2") == ["SV2*0905*HC:S9480*250*UN*1"] * 5
    assert tagged(text, "DTP")[2:] == [f"DTP*472*D8*{day:%Y%m%d}" for day in WEEK]
    assert "NM1*71*1*OKAFOR*GRACE****XX*1555555550" in segments(text)


def test_medicare_iop_carries_condition_code_92_and_g0410_group_lines() -> None:
    """Medicare IOP: condition code 92 in HI*BG, 0915/G0410 group lines with units, filed under MA."""
    lines = tuple(
        iop_day(day, procedure="G0410", revenue_code="0915", charge=Decimal("180"), units=2)
        for day in WEEK[:3]
    )
    claim = iop_week(condition_codes=("92",), lines=lines, statement_to=WEEK[2])
    batch = batch_of((member(), claim), payer=MEDICARE)
    text = write_837i(batch)
    assert_valid_file(text, batch)
    assert "HI*BG:92" in segments(text)
    assert tagged(text, "SBR") == ["SBR*P*18*WI-88120******MA"]
    assert tagged(text, "SV2") == ["SV2*0915*HC:G0410*180*UN*2"] * 3
    assert tagged(text, "CLM")[0].split("*")[2] == "540"


def test_replacement_week_for_a_community_mental_health_center() -> None:
    """A corrected CMHC week (TOB 0767): CLM05 76:A:7 and the payer's original claim number in REF*F8."""
    claim = iop_week(
        type_of_bill="0767", frequency="7", original_claim_ref="22024075001234", condition_codes=("92",)
    )
    batch = batch_of((member(), claim), payer=MEDICARE)
    text = write_837i(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "CLM")[0].split("*")[5] == "76:A:7"
    assert tagged(text, "REF")[-2:] == ["REF*G1*IOP-AUTH-5521", "REF*F8*22024075001234"]


def test_many_diagnoses_and_condition_codes_spill_into_a_second_hi_segment() -> None:
    """Past 12 codes a second HI segment starts; the principal diagnosis always stands alone in HI*ABK."""
    diagnoses = tuple(f"F{code}.1" for code in range(30, 44))
    conditions = tuple(str(code) for code in range(70, 83))
    batch = batch_of((member(), iop_week(diagnoses=diagnoses, condition_codes=conditions)))
    text = write_837i(batch)
    assert_valid_file(text, batch)
    his = tagged(text, "HI")
    assert [len(hi.split("*")) - 1 for hi in his] == [1, 12, 1, 12, 1]
    assert his[0] == "HI*ABK:F301" and his[2] == "HI*ABF:F431" and his[4] == "HI*BG:82"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"type_of_bill": "0137"}, "claims[IOP-240311-01].typeOfBill", "frequency_mismatch"),
        (
            {"statement_from": WEEK[-1], "statement_to": WEEK[0]},
            "claims[IOP-240311-01].statementTo",
            "before_start",
        ),
        (
            {"lines": (iop_day(WEEK[0]), iop_day(WEEK[0] + timedelta(days=7)))},
            "claims[IOP-240311-01].lines[2].serviceDate",
            "outside_period",
        ),
        (
            {"lines": (iop_day(WEEK[0], revenue_code=None),)},
            "claims[IOP-240311-01].lines[1].revenueCode",
            "invalid_format",
        ),
        ({"attending": therapist(npi="1234567890")}, "claims[IOP-240311-01].attending.npi", "invalid_npi"),
        ({"condition_codes": ("9",)}, "claims[IOP-240311-01].conditionCodes[1]", "invalid_format"),
    ],
    ids=[
        "tob_frequency",
        "period_reversed",
        "line_outside_period",
        "no_revenue_code",
        "bad_npi",
        "condition",
    ],
)
def test_bad_institutional_claims_are_rejected(changes: dict[str, Any], field: str, code: str) -> None:
    """No 837I is written for an inconsistent claim: the problem names the claim and field."""
    with pytest.raises(ClaimRejected) as rejected:
        write_837i(batch_of((member(), iop_week(**changes))))
    assert [(p.field, p.code) for p in rejected.value.problems] == [(field, code)]


def test_a_professional_claim_is_refused_by_the_institutional_writer() -> None:
    """A group psychotherapy claim in an 837I batch is reported, not written without a revenue code."""
    with pytest.raises(ClaimRejected) as rejected:
        write_837i(batch_of((member(), group_claim())))
    assert [(p.field, p.code) for p in rejected.value.problems] == [
        ("claims[GRP-240313-01]", "wrong_claim_type")
    ]


def primary_week(**changes: Any) -> OtherPayer:
    """Northwoods paid each IOP day 200.00 of 250.00 (50.00 coinsurance), less a 10.00 claim-level
    reduction: 990.00 for the week."""
    day = LineAdjudication("S9480", (), Decimal("200.00"), (Adjustment("PR", "2", Decimal("50.00")),))
    other = OtherPayer(
        payer=Payer("Northwoods Health", "NWH01", "CI"),
        member_id="XJH400211",
        last_name="Lindqvist",
        first_name="Maren",
        group_number="WI-88120",
        responsibility="P",
        paid=Decimal("990.00"),
        adjudicated_on=date(2024, 3, 16),
        lines=(day,) * 5,
        claim_adjustments=(Adjustment("CO", "253", Decimal("10.00")),),
    )
    return dataclasses.replace(other, **changes)


def test_an_iop_week_to_the_secondary_payer_carries_the_primarys_answer_day_by_day() -> None:
    """Medicaid, second, for an IOP week: SBR*S for the member; 2320 with the primary's SBR*P, its
    claim-level CAS, AMT*D 990 and OI; 2330A/B; and per day 2430 SVD with the revenue code (SVD04),
    the day's coinsurance and the remittance date; pyx12 accepts it."""
    secondary = dataclasses.replace(member("MCD7781"), group_number=None, payer_responsibility="S")
    week = iop_week("IOP-240311-01S", prior_auth=None, other_payer=primary_week())
    batch = batch_of((secondary, week), payer=Payer("Wisconsin Medicaid", "WIMCD", "MC"))
    text = write_837i(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "SBR", "AMT", "OI")[:4] == [
        "SBR*S*18*******MC",
        "SBR*P*18*WI-88120******CI",
        "AMT*D*990",
        "OI***Y***Y",
    ]
    assert tagged(text, "CAS")[0] == "CAS*CO*253*10"
    assert tagged(text, "SVD") == ["SVD*NWH01*200*HC:S9480*0905*1"] * 5
    assert tagged(text, "CAS")[1:] == ["CAS*PR*2*50"] * 5
    assert segments(text).count("DTP*573*D8*20240316") == 5


def test_an_iop_week_whose_days_do_not_add_up_to_the_primarys_payment_is_refused() -> None:
    """990 paid is the days' 1000 less the 10 claim-level reduction: 1000 claimed is refused."""
    secondary = dataclasses.replace(member(), payer_responsibility="S")
    week = iop_week(other_payer=primary_week(paid=Decimal("1000.00")))
    with pytest.raises(ClaimRejected) as rejected:
        write_837i(batch_of((secondary, week)))
    assert [(p.field, p.code) for p in rejected.value.problems] == [
        ("claims[IOP-240311-01].otherPayer.paid", "unbalanced")
    ]
