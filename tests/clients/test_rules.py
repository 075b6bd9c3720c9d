"""Pure validation of the client record: ICD-10-CM format, contacts, diagnoses, coverage."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from backend.clients.rules import (
    AddressDraft,
    CoverageDraft,
    CoveragePriority,
    DiagnosisDraft,
    EmergencyContactDraft,
    is_icd10cm_format,
    names_another_payer,
    validate_address,
    validate_coverages,
    validate_diagnoses,
    validate_emergency_contacts,
    validate_phone,
)

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize("code", ["F33.1", "F41.9", "F10.20", "Z63.8", "F32.A", "f43.10", "T14.91XA", "F20"])
def test_icd10cm_codes_of_the_right_shape_are_accepted(code: str) -> None:
    """Letter, digit, alphanumeric, then optionally a dot and 1-4 alphanumerics."""
    assert is_icd10cm_format(code)


@pytest.mark.parametrize(
    "code", ["", "F3", "33.1", "F33.", "F33.12345", "F33-1", "FF3.1", "F33.1 x", "296.32"]
)
def test_malformed_icd10cm_codes_are_refused(code: str) -> None:
    """ICD-9 codes, missing parts and extra characters are not ICD-10-CM."""
    assert not is_icd10cm_format(code)


def test_diagnoses_name_the_bad_code_and_refuse_two_primaries_and_duplicates() -> None:
    """Each problem names its list item; duplicates and two primaries are list-level problems."""
    drafts = [
        DiagnosisDraft("F33.1", True, TODAY),
        DiagnosisDraft("296.32", True, TODAY),
        DiagnosisDraft("f33.1", False, date(2030, 1, 1)),
    ]
    problems = {(p.field, p.code) for p in validate_diagnoses("diagnoses", drafts, TODAY)}
    assert problems == {
        ("diagnoses[1].code", "invalid_icd10cm"),
        ("diagnoses[2].notedOn", "in_future"),
        ("diagnoses", "duplicate"),
        ("diagnoses", "several_primary"),
    }


def test_emergency_contacts_need_a_name_and_a_phone_number() -> None:
    """A blank name or a phone that is not a number is named by index."""
    contacts = [
        EmergencyContactDraft("Ana", "sister", "+1 555 010 1234"),
        EmergencyContactDraft(" ", "x", "abc"),
    ]
    problems = {(p.field, p.code) for p in validate_emergency_contacts("emergencyContacts", contacts)}
    assert problems == {
        ("emergencyContacts[1].name", "required"),
        ("emergencyContacts[1].phone", "invalid_format"),
    }
    assert validate_phone("phone", "(555) 010-1234") == []
    assert validate_phone("phone", "12") != []


def test_coverages_need_payer_and_member_id_and_distinct_priorities() -> None:
    """Two primary coverages or a blank member id are refused."""
    drafts = [
        CoverageDraft("Aetna", "W123", None, CoveragePriority.PRIMARY),
        CoverageDraft("Cigna", "", "G1", CoveragePriority.PRIMARY),
    ]
    problems = {(p.field, p.code) for p in validate_coverages("coverages", drafts)}
    assert problems == {("coverages[1].memberId", "required"), ("coverages", "duplicate_priority")}


def test_an_address_needs_street_city_a_usps_state_and_a_zip_or_zip_plus_4() -> None:
    """Each part is named under the field; ZIP+4 may come with its dash; a territory is a state."""
    assert validate_address("address", AddressDraft("1 Main St", "San Juan", "pr", "00901-1234")) == []
    problems = validate_address("address", AddressDraft(" ", "C" * 31, "ZZ", "1234-5"))
    assert [(p.field, p.code) for p in problems] == [
        ("address.line1", "required"),
        ("address.city", "too_long"),
        ("address.state", "invalid_state"),
        ("address.postalCode", "invalid_postal_code"),
    ]
    assert validate_address("address", None) == []


def test_another_payer_is_another_name_or_link_not_a_new_card_or_a_first_link() -> None:
    """Spacing, case, a new member id or group and linking an unlinked coverage keep the payer; another
    name or a link to another configured payer is another payer (unless the link is kept as it was)."""
    aetna, cigna = uuid.uuid4(), uuid.uuid4()

    def draft(name: str, payer: uuid.UUID | None = None, member_id: str = "M1") -> CoverageDraft:
        return CoverageDraft(name, member_id, None, CoveragePriority.PRIMARY, payer)

    assert not names_another_payer("Aetna Behavioral", aetna, draft("  aetna   behavioral ", aetna, "M2"))
    assert not names_another_payer("Aetna", None, draft("Aetna", aetna))
    assert not names_another_payer("Aetna", aetna, draft("Aetna", None))
    assert names_another_payer("Aetna", aetna, draft("Cigna", cigna))
    assert names_another_payer("Aetna", aetna, draft("Aetna", cigna))
    assert not names_another_payer("Aetna", aetna, draft("Aetna", cigna), keep_payer=True)
