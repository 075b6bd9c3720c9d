"""270/271 eligibility for group psychotherapy: the inquiry we write and what the answer means."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from x12sdk.io import X12ModelReader

from backend.billing.eligibility import (
    EligibilityOutcome,
    EligibilityRequest,
    EligibilityRequestRejected,
    EligibilityUnreadable,
    Envelope,
    eligibility_outcome,
    parse_271,
    parse_271_members,
    write_270,
)

FIXTURES = Path(__file__).parent / "fixtures"


def request(**changes: object) -> EligibilityRequest:
    base = EligibilityRequest(
        envelope=Envelope("ENSEMBLECLINIC", "NORTHWINDHP", 5521, datetime(2024, 3, 4, 8, 15)),
        payer_name="Northwind Health",
        payer_id="NWH77",
        provider_name="Ensemble Group Therapy",
        provider_npi="2453198709",
        member_id="NW100005",
        last_name="Testmember",
        first_name="Écho",
        birth_date=date(1988, 11, 9),
        service_date=date(2024, 3, 11),
        trace_number="ELG-5521",
        originator_id="1461234567",
        service_types=("MH", "A6"),
    )
    return dataclasses.replace(base, **changes)


def segments(text: str) -> list[str]:
    return [s for s in text.replace("\n", "").split("~") if s]


def response_271(*benefits: str, member: str = "NM1*IL*1*TESTMEMBER*ECHO****MI*NW100005") -> str:
    body = [
        "ST*271*0001*005010X279A1",
        "BHT*0022*11*ELG-5521*20240304*0815",
        "HL*1**20*1",
        "NM1*PR*2*NORTHWIND HEALTH*****PI*NWH77",
        "HL*2*1*21*1",
        "NM1*1P*2*ENSEMBLE GROUP THERAPY*****XX*2453198709",
        "HL*3*2*22*0",
        "TRN*2*ELG-5521*1461234567",
        member,
        *benefits,
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    parties = f"ZZ*{'NORTHWINDHP':15}*ZZ*{'ENSEMBLECLINIC':15}"
    isa = f"ISA*00*{'':10}*00*{'':10}*{parties}*240304*0815*^*00501*000005521*0*P*:"
    gs = "GS*HB*NORTHWINDHP*ENSEMBLECLINIC*20240304*0815*5521*X*005010X279A1"
    return "~".join([isa, gs, *body, "GE*1*5521", "IEA*1*000005521"]) + "~"


def test_270_asks_about_mental_health_for_one_member_and_x12sdk_reads_it() -> None:
    """HL 20/21/22: payer, NPI, member id, birth date, date of service, EQ*MH and EQ*A6; x12sdk reads it."""
    text = write_270(request())
    assert segments(text)[2:] == [
        "ST*270*0001*005010X279A1",
        "BHT*0022*13*ELG-5521*20240304*0815",
        "HL*1**20*1",
        "NM1*PR*2*NORTHWIND HEALTH*****PI*NWH77",
        "HL*2*1*21*1",
        "NM1*1P*2*ENSEMBLE GROUP THERAPY*****XX*2453198709",
        "HL*3*2*22*0",
        "TRN*1*ELG-5521*1461234567",
        "NM1*IL*1*TESTMEMBER*ECHO****MI*NW100005",
        "DMG*D8*19881109",
        "DTP*291*D8*20240311",
        "EQ*MH",
        "EQ*A6",
        "SE*14*0001",
        "GE*1*5521",
        "IEA*1*000005521",
    ]
    with X12ModelReader(text) as reader:
        (model,) = list(reader.models())
    (member,) = list(model.members())
    assert (member.member_id, member.service_type_codes) == ("NW100005", ("MH", "A6"))


def test_procedure_inquiry_for_90853_is_its_own_eq_loop() -> None:
    """Payers answering per procedure get EQ**HC:90853 (EQ01 left out, as the TR3 asks), counted by SE."""
    text = write_270(request(service_types=("MH",), procedure_code="90853"))
    assert segments(text)[-5:-2] == ["EQ*MH", "EQ**HC:90853", "SE*14*0001"]


def test_a_request_that_cannot_be_answered_is_refused_with_every_problem() -> None:
    """Bad NPI check digit, a delimiter in the member id, birth after service: all named, nothing written."""
    bad = request(provider_npi="2453198700", member_id="NW*1", birth_date=date(2025, 1, 1))
    with pytest.raises(EligibilityRequestRejected) as caught:
        write_270(bad)
    assert {p.field for p in caught.value.problems} == {"providerNpi", "memberId", "birthDate"}


def test_active_coverage_with_in_network_copay_coinsurance_and_visit_limit() -> None:
    """The in-network copay (not the out-of-network one), EB08 coinsurance, 20 visits of which 8 remain."""
    result = parse_271((FIXTURES / "271_active_with_visit_limit.x12").read_text())
    assert result.active
    assert (result.plan_name, result.copay, result.coinsurance) == (
        "NORTHWIND SILVER HMO",
        Decimal("30.00"),
        Decimal("0.1"),
    )
    assert (result.visit_limit, result.visits_used, result.visits_remaining) == (20, 12, 8)
    assert (result.trace_number, result.member_id) == ("ELG-5521", "NW100005")
    assert (result.coverage_start, result.coverage_end) == (date(2024, 1, 1), date(2024, 12, 31))
    assert result.raw_service_types == ("30", "MH", "A6")
    assert result.messages == ("LIMIT SHARED WITH INDIVIDUAL PSYCHOTHERAPY",)
    assert eligibility_outcome(result) == (
        EligibilityOutcome.ACTIVE,
        ("coverage active", "copay 30.00", "coinsurance 10%", "visit limit 20", "8 visits remaining"),
    )


def test_the_group_procedure_copay_wins_over_the_general_mental_health_one() -> None:
    """A copay stated for 90853 itself (EB13) is the one a group member pays."""
    result = parse_271(
        response_271("EB*1*IND*MH", "EB*B*IND*MH***27*40*****Y", "EB*B*IND*MH***27*15*****Y*HC:90853")
    )
    assert result.copay == Decimal("15.00")


@pytest.mark.parametrize(
    ("benefits", "outcome", "reason"),
    [
        (("EB*6*IND*30",), EligibilityOutcome.INACTIVE, "coverage inactive"),
        (("EB*1*IND*30", "EB*I*IND*MH"), EligibilityOutcome.INACTIVE, "mental health services not covered"),
        (
            ("EB*1*IND*MH", "EB*F*IND*MH***23***VS*20", "EB*F*IND*MH***29***VS*0"),
            EligibilityOutcome.INACTIVE,
            "no visits remaining",
        ),
        (("AAA*N**75*C",), EligibilityOutcome.UNKNOWN, "payer rejected the inquiry: member not found"),
        (("EB*1*IND*98",), EligibilityOutcome.UNKNOWN, "no active coverage reported for mental health"),
    ],
)
def test_coverage_that_cannot_pay_for_group_is_not_active(
    benefits: tuple[str, ...], outcome: EligibilityOutcome, reason: str
) -> None:
    """Inactive plan, mental health excluded, visits used up, member not found, or silent on mental health."""
    got, reasons = eligibility_outcome(parse_271(response_271(*benefits)))
    assert (got, reasons[0]) == (outcome, reason)


def test_a_rejection_at_the_payer_level_applies_to_the_member() -> None:
    """AAA*N**42 under the payer (unable to respond now) makes the member's answer unknown."""
    payer = "NM1*PR*2*NORTHWIND HEALTH*****PI*NWH77~"
    text = response_271("EB*1*IND*MH").replace(payer, f"{payer}AAA*Y**42*R~")
    result = parse_271(text.replace("SE*11*", "SE*12*"))
    assert eligibility_outcome(result) == (
        EligibilityOutcome.UNKNOWN,
        ("payer rejected the inquiry: payer unable to respond now",),
    )


@pytest.mark.parametrize("text", ["", "ISA nonsense", (FIXTURES / "835_paid_and_denied.x12").read_text()])
def test_text_that_is_not_a_271_is_unreadable(text: str) -> None:
    """Nothing, free text or an 835: a typed error instead of an 'unknown' that looks like an answer."""
    with pytest.raises(EligibilityUnreadable):
        parse_271_members(text)
