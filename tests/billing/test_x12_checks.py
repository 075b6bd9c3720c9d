"""The project's own claim checks (what pyx12 misses), the file arithmetic re-read, and the pyx12 wrapper."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from backend.billing.claims import Address, ClaimBatch, Contact, Payer
from backend.billing.x12.checks import claim_problems, claim_warnings
from backend.billing.x12.claim_837p import write_837p
from backend.billing.x12.validation import X12MapMissing, file_problems, pyx12_errors
from tests.billing.test_claims_837i import iop_week
from tests.billing.test_claims_837p import (
    batch_of,
    billing_provider,
    group_claim,
    group_line,
    member,
    therapist,
)

CLAIM = "claims[GRP-240313-01]"
LINE = f"{CLAIM}.lines[1]"


def problems_of(batch: ClaimBatch) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in claim_problems(batch)]


def test_a_clean_batch_has_no_problems_and_no_warnings() -> None:
    """The reference group claim passes every check and needs no text cleaning."""
    batch = batch_of((member(), group_claim()), (member("ZQP118734"), group_claim("GRP-240313-02")))
    assert claim_problems(batch) == []
    assert claim_warnings(batch) == []


@pytest.mark.parametrize("procedure", ["90853", "90849", "90785", "S9480", "G0410", "h0015", "0591T"])
def test_cpt_and_hcpcs_codes_are_accepted(procedure: str) -> None:
    """CPT (5 digits, or category III 4 digits + T) and HCPCS (letter + 4 digits, any case) pass."""
    assert problems_of(batch_of((member(), group_claim(lines=(group_line(procedure=procedure),))))) == []


@pytest.mark.parametrize("procedure", ["9085", "908533", "ABCDE", "90853A", "S948", ""])
def test_malformed_procedure_codes_are_problems(procedure: str) -> None:
    """Four digits, six digits, letters only or a trailing letter are not CPT/HCPCS."""
    batch = batch_of((member(), group_claim(lines=(group_line(procedure=procedure),))))
    assert problems_of(batch) == [(f"{LINE}.procedure", "invalid_format")]


@pytest.mark.parametrize(
    ("line_changes", "expected"),
    [
        ({"modifiers": ("H",)}, [(f"{LINE}.modifiers[1]", "invalid_format")]),
        ({"modifiers": ("HQ", "H*")}, [(f"{LINE}.modifiers[2]", "invalid_format")]),
        ({"modifiers": ("HQ", "95", "59", "AJ", "HO")}, [(f"{LINE}.modifiers", "too_many")]),
        ({"diagnosis_pointers": ()}, [(f"{LINE}.diagnosisPointers", "required")]),
        ({"diagnosis_pointers": (0,)}, [(f"{LINE}.diagnosisPointers", "out_of_range")]),
        ({"diagnosis_pointers": (1, 1)}, [(f"{LINE}.diagnosisPointers", "duplicate")]),
        ({"diagnosis_pointers": (1, 2, 1, 2, 1)}, [(f"{LINE}.diagnosisPointers", "too_many")] * 1
         + [(f"{LINE}.diagnosisPointers", "duplicate")]),
        ({"units": Decimal("-1")}, [(f"{LINE}.units", "not_positive")]),
        ({"charge": Decimal("0")}, [(f"{LINE}.charge", "not_positive")]),
        ({"charge": Decimal("-70")}, [(f"{LINE}.charge", "not_positive")]),
        ({"charge": Decimal("70.005")}, [(f"{LINE}.charge", "fraction_of_cent")]),
        ({"charge": 70.0}, [(f"{LINE}.charge", "not_decimal")]),
        ({"place_of_service": "2"}, [(f"{LINE}.placeOfService", "invalid_format")]),
        ({"service_date": date(2024, 3, 19)}, [(f"{LINE}.serviceDate", "in_future")]),
    ],
)  # fmt: skip
def test_line_problems(line_changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """Modifiers, pointers, units, money (Decimal, cents, above zero), POS and dates are checked per line."""
    batch = batch_of((member(), group_claim(lines=(group_line(**line_changes),))))
    assert problems_of(batch) == expected


@pytest.mark.parametrize(
    ("claim_changes", "expected"),
    [
        ({"frequency": "7"}, [(f"{CLAIM}.originalClaimRef", "required")]),
        (
            {"frequency": "8", "original_claim_ref": "NWH*1"},
            [(f"{CLAIM}.originalClaimRef", "invalid_characters")],
        ),
        ({"original_claim_ref": "NWH1"}, [(f"{CLAIM}.originalClaimRef", "not_allowed")]),
        ({"frequency": "2"}, [(f"{CLAIM}.frequency", "invalid_code")]),
        (
            {"diagnoses": ()},
            [(f"{CLAIM}.diagnoses", "required"), (f"{LINE}.diagnosisPointers", "out_of_range")],
        ),
        ({"diagnoses": ("F33.1", " f33.1")}, [(f"{CLAIM}.diagnoses", "duplicate")]),
        ({"diagnoses": tuple(f"F{n}" for n in range(30, 43))}, [(f"{CLAIM}.diagnoses", "too_many")]),
        ({"diagnoses": ("F33.1", "F41.12345")}, [(f"{CLAIM}.diagnoses[2]", "invalid_format")]),
        ({"lines": ()}, [(f"{CLAIM}.lines", "required")]),
        ({"place_of_service": "1"}, [(f"{CLAIM}.placeOfService", "invalid_format")]),
        ({"prior_auth": "PA~1"}, [(f"{CLAIM}.priorAuth", "invalid_characters")]),
        ({"rendering": therapist(npi="155555555")}, [(f"{CLAIM}.rendering.npi", "invalid_npi")]),
        (
            {"rendering": dataclasses.replace(therapist(), taxonomy="1041C0700")},
            [(f"{CLAIM}.rendering.taxonomy", "invalid_format")],
        ),
    ],
)
def test_claim_problems(claim_changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """Corrections need the original claim, diagnoses are ICD-10-CM (1 to 12, distinct), NPIs check out."""
    assert problems_of(batch_of((member(), group_claim(**claim_changes)))) == expected


def test_claim_ids_are_short_unique_and_free_of_delimiters() -> None:
    """A 21-character id, an id with '*', and the same id twice are refused: payers echo CLM01 in the 835."""
    batch = batch_of(
        (member(), group_claim("G" * 21)),
        (member(), group_claim("GRP*2")),
        (member(), group_claim("GRP-3")),
        (member(), group_claim("GRP-3")),
    )
    assert problems_of(batch) == [
        ("claims[#1].claimId", "too_long"),
        ("claims[GRP*2].claimId", "invalid_characters"),
        ("claims[GRP-3].claimId", "duplicate"),
    ]


@pytest.mark.parametrize(
    ("subscriber_changes", "expected"),
    [
        ({"member_id": "XJH~400211"}, [("subscriber.memberId", "invalid_characters")]),
        ({"member_id": " "}, [("subscriber.memberId", "required")]),
        ({"last_name": "***"}, [("subscriber.lastName", "required")]),
        ({"birth_date": date(2024, 3, 19)}, [("subscriber.birthDate", "in_future")]),
        ({"sex": "X"}, [("subscriber.sex", "invalid_code")]),
        ({"relationship": "19"}, [("subscriber.relationship", "unsupported")]),
        ({"payer_responsibility": "Q"}, [("subscriber.payerResponsibility", "invalid_code")]),
        (
            {"address": Address("7 Elm St", "Madison", "Wisconsin", "5370")},
            [("subscriber.address.state", "invalid_format"), ("subscriber.address.zip", "invalid_format")],
        ),
    ],
)
def test_subscriber_problems(subscriber_changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """The member id is sent verbatim, the patient must be the subscriber, codes and address are checked."""
    subscriber = dataclasses.replace(member(), **subscriber_changes)
    assert problems_of(batch_of((subscriber, group_claim()))) == [(f"{CLAIM}.{f}", c) for f, c in expected]


def test_secondary_payer_responsibility_is_accepted() -> None:
    """A member billed to a secondary payer (SBR01 S) is a valid claim."""
    subscriber = dataclasses.replace(member(), payer_responsibility="S")
    assert problems_of(batch_of((subscriber, group_claim()))) == []


@pytest.mark.parametrize(
    ("batch_changes", "expected"),
    [
        (
            {"billing_provider": dataclasses.replace(billing_provider(), npi="1987654320")},
            [("billingProvider.npi", "invalid_npi")],
        ),
        (
            {"billing_provider": dataclasses.replace(billing_provider(), tax_id="84-271905")},
            [("billingProvider.taxId", "invalid_format")],
        ),
        (
            {
                "billing_provider": dataclasses.replace(
                    billing_provider(), address=Address("42 Harbor Rd", "Madison", "WI", "53703")
                )
            },
            [("billingProvider.address.zip", "invalid_format")],
        ),
        ({"payer": Payer("Northwoods Health", "NWH01", "XX")}, [("payer.filingIndicator", "invalid_code")]),
        ({"payer": Payer("Northwoods Health", "")}, [("payer.payerId", "required")]),
        ({"interchange_control_number": 0}, [("interchangeControlNumber", "out_of_range")]),
        ({"group_control_number": 1_000_000_000}, [("groupControlNumber", "out_of_range")]),
        ({"sender_id": "LAKESIDE-GROUP-THERAPY"}, [("senderId", "invalid_format")]),
        ({"usage": "X"}, [("usage", "invalid_code")]),
        ({"submitter_contact": Contact("Billing Desk")}, [("submitterContact", "required")]),
        (
            {"submitter_contact": Contact("Billing Desk", phone="555-0142")},
            [("submitterContact.phone", "invalid_format")],
        ),
        ({"claims": []}, [("claims", "required")]),
    ],
)
def test_batch_problems(batch_changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """The billing provider needs a valid NPI, a 9-digit tax id and ZIP+4; envelopes valid ids and numbers."""
    assert problems_of(batch_of((member(), group_claim()), **batch_changes)) == expected


def test_a_batch_mixing_professional_and_institutional_claims_is_a_problem() -> None:
    """One file is one format: mixing 837P and 837I claims is reported once for the batch."""
    batch = batch_of((member(), group_claim()), (member("ZQP118734"), iop_week()))
    assert problems_of(batch) == [("claims", "mixed_claim_types")]


def test_messages_never_contain_the_members_name_or_id() -> None:
    """Problems name claims by claim id and line number, never by who the member is."""
    subscriber = dataclasses.replace(member(member_id="XJH~400211"), sex="X", birth_date=date(2030, 1, 1))
    problems = claim_problems(batch_of((subscriber, group_claim(lines=(group_line(units=0),)))))
    assert len(problems) == 4
    text = " ".join(f"{p.field} {p.code} {p.message}" for p in problems)
    assert not any(phi in text for phi in ("Lindqvist", "Maren", "XJH", "1979", "2030"))


def test_long_free_text_is_truncated_with_a_warning() -> None:
    """An address line over the 55 characters N301 allows is cut, and the warning says which field."""
    address = Address(
        "1200 Very Long Name Of A Street That Goes On And On Boulevard", "Madison", "WI", "53704"
    )
    batch = batch_of((dataclasses.replace(member(), address=address), group_claim()))
    assert [(w.field, w.code) for w in claim_warnings(batch)] == [
        (f"{CLAIM}.subscriber.address.line1", "truncated")
    ]
    assert "N3*1200 VERY LONG NAME OF A STREET THAT GOES ON AND ON BOU~" in write_837p(batch)


def test_file_arithmetic_catches_a_total_that_is_not_the_sum_of_the_lines() -> None:
    """Re-reading a file whose CLM02 was edited (pyx12 accepts it) reports the claim's total."""
    text = write_837p(batch_of((member(), group_claim())))
    assert file_problems(text) == []
    tampered = text.replace("CLM*GRP-240313-01*70*", "CLM*GRP-240313-01*75*")
    assert [(p.field, p.code) for p in file_problems(tampered)] == [
        (f"{CLAIM}.totalCharge", "total_mismatch")
    ]


def test_file_arithmetic_catches_pointers_past_the_diagnoses_and_zero_units() -> None:
    """A pointer to a third diagnosis of two, and zero units, are found in the file itself."""
    text = write_837p(batch_of((member(), group_claim())))
    tampered = text.replace("SV1*HC:90853:HQ*70*UN*1***1:2", "SV1*HC:90853:HQ*70*UN*0***1:3")
    assert [(p.field, p.code) for p in file_problems(tampered)] == [
        (f"{LINE}.units", "not_positive"),
        (f"{LINE}.diagnosisPointers", "out_of_range"),
    ]
    assert [(p.field, p.code) for p in file_problems("NOT X12")] == [("file", "not_x12")]


def test_pyx12_reports_a_structural_error_and_refuses_an_unmapped_transaction() -> None:
    """A wrong SE count is an ERROR; a transaction pyx12 has no map for (270 5010) raises rather than pass."""
    text = write_837p(batch_of((member(), group_claim())))
    se = next(s for s in text.split("\n") if s.startswith("SE*"))
    errors = pyx12_errors(text.replace(se, "SE*3*0001~"))
    assert len(errors) == 1 and "SE count" in errors[0]
    with pytest.raises(X12MapMissing):
        pyx12_errors(text.replace("005010X222A1", "005010X279A1").replace("ST*837", "ST*270"))
    assert pyx12_errors("not an interchange") != []
