"""837P professional claims: group psychotherapy per member, telehealth, multi-family, corrections, envelopes.

Every file written here passes pyx12 with zero errors and the project's own checks (`assert_valid_file`).
The builders below are reused by the 837I and checks tests.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from backend.billing.claims import (
    Address,
    Adjustment,
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimFrequency,
    Contact,
    InstitutionalClaim,
    LineAdjudication,
    OtherPayer,
    Payer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
    Subscriber,
)
from backend.billing.x12.checks import ClaimRejected, claim_problems, claim_warnings
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import file_problems, pyx12_errors

CREATED = datetime(2024, 3, 18, 9, 30)
SESSION_DAY = date(2024, 3, 13)


def billing_provider() -> BillingProvider:
    return BillingProvider(
        "Lakeside Group Therapy",
        "1987654328",
        "84-2719053",
        "261QM0801X",
        Address("42 Harbor Rd", "Madison", "WI", "53703-2211", "Suite 300"),
    )


def therapist(npi: str = "1555555550") -> RenderingProvider:
    return RenderingProvider("Okafor", "Grace", npi, "1041C0700X")


def member(
    member_id: str = "XJH400211", last_name: str = "Lindqvist", first_name: str = "Maren"
) -> Subscriber:
    return Subscriber(
        member_id,
        last_name,
        first_name,
        date(1979, 11, 2),
        "F",
        Address("7 Elm St", "Madison", "WI", "53704"),
        group_number="WI-88120",
    )


def group_line(**changes: Any) -> ServiceLine:
    line = ServiceLine(SESSION_DAY, "90853", ("HQ",), Decimal("70.00"), 1, (1, 2))
    return dataclasses.replace(line, **changes)


def group_claim(claim_id: str = "GRP-240313-01", **changes: Any) -> ProfessionalClaim:
    claim = ProfessionalClaim(
        claim_id=claim_id,
        frequency=ClaimFrequency.ORIGINAL,
        original_claim_ref=None,
        place_of_service="11",
        diagnoses=("F33.1", "F41.1"),
        lines=(group_line(),),
        rendering=therapist(),
        prior_auth="PA-77120",
    )
    return dataclasses.replace(claim, **changes)


def batch_of(*pairs: tuple[Subscriber, Claim], **changes: Any) -> ClaimBatch:
    batch = ClaimBatch(
        sender_id="LAKESIDE01",
        receiver_id="CLEARHOUSE",
        submitter_name="Lakeside Group Therapy",
        submitter_contact=Contact("Billing Desk", phone="(608) 555-0142", email="billing@lakeside.example"),
        receiver_name="Badger Clearinghouse",
        billing_provider=billing_provider(),
        payer=Payer("Northwoods Health", "NWH01", "CI"),
        claims=list(pairs),
        interchange_control_number=4711,
        group_control_number=38,
        created_at=CREATED,
        usage="T",
    )
    return dataclasses.replace(batch, **changes)


def segments(text: str) -> list[str]:
    return [s for s in text.replace("\n", "").split("~") if s]


def tagged(text: str, *tags: str) -> list[str]:
    return [s for s in segments(text) if s.split("*")[0] in tags]


def assert_valid_file(text: str, batch: ClaimBatch) -> None:
    assert claim_problems(batch) == []
    assert file_problems(text) == []
    assert pyx12_errors(text) == []


def test_group_session_member_is_billed_90853_with_hq_in_the_office() -> None:
    """A present member: POS 11, frequency 1, prior auth, F33.1 principal, 90853:HQ pointing at both."""
    batch = batch_of((member(), group_claim()))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "CLM", "REF", "HI", "SV1", "DTP") == [
        "REF*EI*842719053",
        "CLM*GRP-240313-01*70***11:B:1*Y*A*Y*Y",
        "REF*G1*PA-77120",
        "HI*ABK:F331*ABF:F411",
        "SV1*HC:90853:HQ*70*UN*1***1:2",
        "DTP*472*D8*20240313",
    ]
    assert "NM1*82*1*OKAFOR*GRACE****XX*1555555550" in segments(text)


def test_telehealth_session_at_home_carries_modifier_95_and_pos_10() -> None:
    """Real-time video with the member at home: POS 10 on the claim, modifier 95 on the line."""
    claim = group_claim(place_of_service="10", lines=(group_line(modifiers=("95",)),))
    batch = batch_of((member(), claim))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "CLM")[0].split("*")[5] == "10:B:1"
    assert tagged(text, "SV1") == ["SV1*HC:90853:95*70*UN*1***1:2"]


def test_multi_family_group_is_billed_90849() -> None:
    """A multiple-family group session bills 90849 for the identified patient, with its own fee."""
    claim = group_claim(lines=(group_line(procedure="90849", modifiers=(), charge=Decimal("85.50")),))
    batch = batch_of((member(), claim))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "SV1") == ["SV1*HC:90849*85.5*UN*1***1:2"]
    assert tagged(text, "CLM")[0].split("*")[2] == "85.5"


def test_two_members_get_their_own_subscriber_loop_and_claim_in_one_batch() -> None:
    """Each member's claim sits under that member's HL 22 with that member's own diagnoses and id."""
    second = member("ZQP118734", "Abernathy", "Tom")
    batch = batch_of(
        (member(), group_claim()),
        (
            second,
            group_claim("GRP-240313-02", diagnoses=("F43.10",), lines=(group_line(diagnosis_pointers=(1,)),)),
        ),
    )
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "HL") == ["HL*1**20*1", "HL*2*1*22*0", "HL*3*1*22*0"]
    flow = tagged(text, "HL", "NM1", "CLM", "HI")
    second_member = flow[flow.index("HL*3*1*22*0") :]
    assert second_member[:4] == [
        "HL*3*1*22*0",
        "NM1*IL*1*ABERNATHY*TOM****MI*ZQP118734",
        "NM1*PR*2*NORTHWOODS HEALTH*****PI*NWH01",
        "CLM*GRP-240313-02*70***11:B:1*Y*A*Y*Y",
    ]
    assert second_member[4] == "HI*ABK:F4310"


def test_add_on_line_makes_the_claim_total_the_sum_of_its_lines() -> None:
    """90853 with the 90785 interactive-complexity add-on: CLM02 is 70.00 + 15.25, each line its charge."""
    claim = group_claim(
        lines=(group_line(), group_line(procedure="90785", modifiers=(), charge=Decimal("15.25")))
    )
    batch = batch_of((member(), claim))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert claim.total_charge == Decimal("85.25")
    assert tagged(text, "CLM")[0].split("*")[2] == "85.25"
    assert tagged(text, "LX") == ["LX*1", "LX*2"]


@pytest.mark.parametrize("frequency", [ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID])
def test_replacement_and_void_reference_the_payers_claim_number(frequency: ClaimFrequency) -> None:
    """A corrected session's claim (7) or a withdrawn one (8) carries its frequency and REF*F8."""
    claim = group_claim(frequency=frequency, original_claim_ref="NWH2024031400871")
    batch = batch_of((member(), claim))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "CLM")[0].split("*")[5] == f"11:B:{frequency}"
    assert "REF*F8*NWH2024031400871" in segments(text)


def test_envelope_counts_and_control_numbers_match() -> None:
    """ISA is fixed width with a 9-digit control number echoed by IEA; GS06 by GE; SE counts ST through SE."""
    text = write_837p(batch_of((member(), group_claim()), (member("ZQP118734"), group_claim("GRP-2"))))
    all_segments = segments(text)
    isa = text.split("\n")[0]
    assert len(isa) == 106 and isa[3] == "*" and isa[104] == ":" and isa[105] == "~"
    assert isa.split("*")[6] == "LAKESIDE01     " and isa.split("*")[13] == "000004711"
    assert isa.split("*")[15] == "T"
    assert "PER*IC*BILLING DESK*TE*6085550142*EM*billing@lakeside.example" in all_segments
    assert all_segments[-1] == "IEA*1*000004711"
    assert all_segments[1].split("*")[6] == "38" and all_segments[-2] == "GE*1*38"
    st, se = all_segments.index("ST*837*0001*005010X222A1"), len(all_segments) - 3
    assert all_segments[se] == f"SE*{se - st + 1}*0001"


def test_names_with_delimiters_do_not_break_the_file_and_are_reported() -> None:
    """A '*' or '~' typed into a name becomes a space, the file stays valid, and a warning names the field."""
    batch = batch_of((member(last_name="Lind*qvist~", first_name="Marén"), group_claim()))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert "NM1*IL*1*LIND QVIST*MAREN****MI*XJH400211" in segments(text)
    warnings = claim_warnings(batch)
    assert [(w.field, w.code) for w in warnings] == [
        ("claims[GRP-240313-01].subscriber.lastName", "characters_replaced"),
        ("claims[GRP-240313-01].subscriber.firstName", "characters_replaced"),
    ]
    assert not any("Lind" in w.message or "Mar" in w.message for w in warnings)


def test_limits_twelve_diagnoses_four_modifiers_and_a_line_place_of_service() -> None:
    """The most an 837P line carries passes pyx12; a line POS unlike the claim's is written in SV105."""
    diagnoses = tuple(f"F{code}" for code in range(30, 42))
    line = group_line(
        modifiers=("HQ", "95", "59", "AJ"), diagnosis_pointers=(1, 2, 3, 12), place_of_service="02"
    )
    batch = batch_of((member(), group_claim(diagnoses=diagnoses, lines=(line,))))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "SV1") == ["SV1*HC:90853:HQ:95:59:AJ*70*UN*1*02**1:2:3:12"]
    assert len(tagged(text, "HI")[0].split("*")) == 13


def test_rendering_loop_is_left_out_when_the_billing_provider_rendered() -> None:
    """A solo clinician billing under their own NPI: the TR3 asks for no 2310B rendering loop."""
    batch = batch_of((member(), group_claim(rendering=therapist(npi="1987654328"))))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "NM1")[-1].startswith("NM1*PR*")


@pytest.mark.parametrize(
    ("claim", "field", "code"),
    [
        (
            group_claim(rendering=therapist(npi="1555555551")),
            "claims[GRP-240313-01].rendering.npi",
            "invalid_npi",
        ),
        (
            group_claim(lines=(group_line(diagnosis_pointers=(1, 3)),)),
            "claims[GRP-240313-01].lines[1].diagnosisPointers",
            "out_of_range",
        ),
        (group_claim(lines=(group_line(units=0),)), "claims[GRP-240313-01].lines[1].units", "not_positive"),
        (group_claim(diagnoses=("F33.1", "33.1F")), "claims[GRP-240313-01].diagnoses[2]", "invalid_format"),
    ],
    ids=["bad_rendering_npi", "pointer_past_diagnoses", "zero_units", "bad_icd"],
)
def test_bad_claims_are_rejected_naming_the_claim_and_field(
    claim: ProfessionalClaim, field: str, code: str
) -> None:
    """No file is written for a bad claim: ClaimRejected names the claim id and field, never the member."""
    with pytest.raises(ClaimRejected) as rejected:
        write_837p(batch_of((member(), claim)))
    assert [(p.field, p.code) for p in rejected.value.problems] == [(field, code)]
    assert "GRP-240313-01" in str(rejected.value)
    assert "Lindqvist" not in str(rejected.value) and "Maren" not in str(rejected.value)


def test_an_institutional_claim_is_refused_by_the_professional_writer() -> None:
    """An IOP claim in an 837P batch is a wiring mistake, reported rather than written as professional."""
    iop = InstitutionalClaim(
        "IOP-1", "1", None, "0131", SESSION_DAY, SESSION_DAY, None, "01", (), ("F33.1",),
        (group_line(procedure="S9480", modifiers=(), revenue_code="0905"),), therapist(),
    )  # fmt: skip
    with pytest.raises(ClaimRejected) as rejected:
        write_837p(batch_of((member(), iop)))
    assert [(p.field, p.code) for p in rejected.value.problems] == [("claims[IOP-1]", "wrong_claim_type")]


def primary_adjudication(**changes: Any) -> OtherPayer:
    """Northwoods paid 42.00 of the 70.00 line: 20.00 contractual write-off, 8.00 copay left to the member."""
    adjudication = OtherPayer(
        payer=Payer("Northwoods Health", "NWH01", "CI"),
        member_id="XJH400211",
        last_name="Lindqvist",
        first_name="Maren",
        group_number="WI-88120",
        responsibility="P",
        paid=Decimal("42.00"),
        adjudicated_on=date(2024, 3, 16),
        lines=(
            LineAdjudication(
                "90853",
                (),
                Decimal("42.00"),
                (Adjustment("CO", "45", Decimal("20.00")), Adjustment("PR", "3", Decimal("8.00"))),
            ),
        ),
    )
    return dataclasses.replace(adjudication, **changes)


def test_a_claim_to_the_secondary_payer_carries_what_the_primary_paid_and_adjusted() -> None:
    """Medicaid, second: SBR*S for the member, the primary's SBR*P, AMT*D and OI in 2320, the member and
    payer as Northwoods knows them (2330A/B), and in 2430 the line's payment as Northwoods was billed it
    (90853 without Medicaid's HQ), its adjustments and date."""
    secondary = dataclasses.replace(member("MCD7781"), group_number=None, payer_responsibility="S")
    claim = group_claim("GRP-240313-01S", prior_auth=None, other_payer=primary_adjudication())
    batch = batch_of((secondary, claim), payer=Payer("Wisconsin Medicaid", "WIMCD", "MC"))
    text = write_837p(batch)
    assert_valid_file(text, batch)
    assert tagged(text, "SBR", "AMT", "OI", "SVD", "CAS") == [
        "SBR*S*18*******MC",
        "SBR*P*18*WI-88120******CI",
        "AMT*D*42",
        "OI***Y***Y",
        "SVD*NWH01*42*HC:90853**1",
        "CAS*CO*45*20",
        "CAS*PR*3*8",
    ]
    body = segments(text)
    assert body.index("NM1*IL*1*LINDQVIST*MAREN****MI*XJH400211") > body.index("OI***Y***Y")
    assert "NM1*PR*2*NORTHWOODS HEALTH*****PI*NWH01" in body and body[-4] == "DTP*573*D8*20240316"


@pytest.mark.parametrize(
    ("other", "field", "code"),
    [
        (primary_adjudication(paid=Decimal("40.00")), "otherPayer.paid", "unbalanced"),
        (
            primary_adjudication(
                lines=(LineAdjudication("90853", (), Decimal("42.00"), ()),), paid=Decimal("42.00")
            ),
            "otherPayer.lines[1]",
            "unbalanced",
        ),
        (primary_adjudication(responsibility="S"), "otherPayer.responsibility", "invalid_code"),
        (primary_adjudication(lines=()), "otherPayer.lines", "mismatch"),
    ],
    ids=["claim_paid_not_the_lines", "line_not_balanced", "same_responsibility", "no_line_adjudication"],
)
def test_a_secondary_claim_whose_primary_adjudication_does_not_add_up_is_refused(
    other: OtherPayer, field: str, code: str
) -> None:
    """A payer rejects a COB claim whose amounts do not balance: the writer refuses it first."""
    secondary = dataclasses.replace(member(), payer_responsibility="S")
    with pytest.raises(ClaimRejected) as rejected:
        write_837p(batch_of((secondary, group_claim(other_payer=other))))
    assert [(p.field, p.code) for p in rejected.value.problems] == [(f"claims[GRP-240313-01].{field}", code)]
