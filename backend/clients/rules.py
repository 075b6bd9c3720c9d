"""Validation of a client record: pure functions returning field errors."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import date

from backend.errors import FieldProblem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 320  # RFC 5321's path limit (the column is encrypted, so the database no longer checks it)
OLDEST_PLAUSIBLE_AGE_YEARS = 125


#: USPS codes of the states, DC, the territories and the military post offices: where a claim's
#: subscriber (the member) may live.
# fmt: off
US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP",
})
# fmt: on
ZIP = re.compile(r"^\d{5}(-?\d{4})?$")
#: X12 N3/N4 limits (the member's address goes on every claim as the subscriber's).
ADDRESS_LINE_MAX = 55
CITY_MAX = 30


class AdministrativeSex(enum.StrEnum):
    """As claims carry it (837 DMG03)."""

    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


@dataclass(frozen=True)
class AddressDraft:
    line1: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class ClientDraft:
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    phone: str | None = None
    emergency_contacts: tuple[EmergencyContactDraft, ...] = ()
    address: AddressDraft | None = None
    administrative_sex: AdministrativeSex | None = None


def postal_digits(postal_code: str) -> str:
    """A ZIP or ZIP+4 as stored: digits only ("04101-1234" -> "041011234")."""
    return postal_code.strip().replace("-", "")


def validate_address(field: str, address: AddressDraft | None) -> list[FieldProblem]:
    """The member's home address, complete enough for a claim's subscriber (N3/N4)."""
    if address is None:
        return []
    problems = []
    for name, value, limit in (("line1", address.line1, ADDRESS_LINE_MAX), ("city", address.city, CITY_MAX)):
        if not value.strip():
            problems.append(FieldProblem(f"{field}.{name}", "required", "must not be blank"))
        elif len(value.strip()) > limit:
            problems.append(
                FieldProblem(f"{field}.{name}", "too_long", f"must be at most {limit} characters")
            )
    if address.state.strip().upper() not in US_STATES:
        problems.append(FieldProblem(f"{field}.state", "invalid_state", "must be a 2-letter USPS state code"))
    if not ZIP.match(address.postal_code.strip()):
        problems.append(
            FieldProblem(
                f"{field}.postalCode", "invalid_postal_code", "must be a ZIP (5 digits) or ZIP+4 (9)"
            )
        )
    return problems


def validate_client(draft: ClientDraft, today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for field, value in (("firstName", draft.first_name), ("lastName", draft.last_name)):
        if not value.strip():
            problems.append(FieldProblem(field, "required", "must not be blank"))
        elif len(value) > 100:
            problems.append(FieldProblem(field, "too_long", "must be at most 100 characters"))
    if draft.date_of_birth > today:
        problems.append(FieldProblem("dateOfBirth", "in_future", "must not be in the future"))
    elif today.year - draft.date_of_birth.year > OLDEST_PLAUSIBLE_AGE_YEARS:
        problems.append(FieldProblem("dateOfBirth", "implausible", "is more than 125 years ago"))
    if draft.email is not None and not EMAIL.match(draft.email):
        problems.append(FieldProblem("email", "invalid_format", "is not an email address"))
    elif draft.email is not None and len(draft.email) > EMAIL_MAX:
        problems.append(FieldProblem("email", "too_long", f"must be at most {EMAIL_MAX} characters"))
    problems += validate_phone("phone", draft.phone)
    problems += validate_emergency_contacts("emergencyContacts", list(draft.emergency_contacts))
    problems += validate_address("address", draft.address)
    return problems


# ICD-10-CM: a letter, a digit, a letter or digit, then optionally a dot and 1-4 letters or digits
# (F33.1, F41.9, F10.20, Z63.8). Format only: whether the code exists in this year's code set is a
# billing-time check against the CMS file.
ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")
MAX_EMERGENCY_CONTACTS = 5


def normalize_icd10cm(code: str) -> str:
    return code.strip().upper()


def is_icd10cm_format(code: str) -> bool:
    """Whether `code` has the shape of an ICD-10-CM code (case-insensitive, surrounding spaces ignored)."""
    return ICD10CM.match(normalize_icd10cm(code)) is not None


def is_phone(value: str) -> bool:
    return PHONE.match(value.strip()) is not None and sum(c.isdigit() for c in value) >= 7


@dataclass(frozen=True)
class EmergencyContactDraft:
    name: str
    relationship: str
    phone: str


@dataclass(frozen=True)
class DiagnosisDraft:
    code: str
    primary: bool
    noted_on: date


class CoveragePriority(enum.StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


@dataclass(frozen=True)
class CoverageDraft:
    """A payer placeholder: enough to identify the member's plan; billing adds eligibility later."""

    payer_name: str
    member_id: str
    group_number: str | None
    priority: CoveragePriority
    #: The configured payer claims go to (billing.models.Payer); None: not linked yet.
    payer_id: uuid.UUID | None = None


#: A coverage ended by a change of payer takes no new authorizations, caps or payer links.
COVERAGE_ENDED = FieldProblem(
    "coverageId", "coverage_ended", "was replaced by a coverage with another payer: use the current one"
)


def names_another_payer(
    payer_name: str, payer_id: uuid.UUID | None, draft: CoverageDraft, *, keep_payer: bool = False
) -> bool:
    """Whether the draft is insurance with another payer than a coverage naming `payer_name` (linked
    to `payer_id`): another name (spacing and case aside) or a link to another configured payer. A new
    member id or group, or linking an unlinked coverage, is the same payer."""
    relinked = not keep_payer and None not in (payer_id, draft.payer_id) and draft.payer_id != payer_id
    return (
        relinked or " ".join(payer_name.split()).casefold() != " ".join(draft.payer_name.split()).casefold()
    )


def validate_phone(field: str, phone: str | None) -> list[FieldProblem]:
    if phone is not None and not is_phone(phone):
        return [FieldProblem(field, "invalid_format", "is not a phone number")]
    return []


def validate_emergency_contacts(field: str, contacts: list[EmergencyContactDraft]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if len(contacts) > MAX_EMERGENCY_CONTACTS:
        problems.append(FieldProblem(field, "too_many", f"must list at most {MAX_EMERGENCY_CONTACTS}"))
    for i, contact in enumerate(contacts):
        at = f"{field}[{i}]"
        if not contact.name.strip() or len(contact.name) > 200:
            problems.append(FieldProblem(f"{at}.name", "required", "must be 1-200 characters"))
        if len(contact.relationship) > 60:
            problems.append(FieldProblem(f"{at}.relationship", "too_long", "must be at most 60 characters"))
        if not is_phone(contact.phone):
            problems.append(FieldProblem(f"{at}.phone", "invalid_format", "is not a phone number"))
    return problems


def validate_diagnosis(field: str, draft: DiagnosisDraft, today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not is_icd10cm_format(draft.code):
        problems.append(
            FieldProblem(f"{field}.code", "invalid_icd10cm", "is not an ICD-10-CM code (e.g. F33.1)")
        )
    if draft.noted_on > today:
        problems.append(FieldProblem(f"{field}.notedOn", "in_future", "must not be in the future"))
    return problems


def validate_diagnoses(field: str, drafts: list[DiagnosisDraft], today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for i, draft in enumerate(drafts):
        problems += validate_diagnosis(f"{field}[{i}]", draft, today)
    codes = [normalize_icd10cm(d.code) for d in drafts]
    if len(set(codes)) != len(codes):
        problems.append(FieldProblem(field, "duplicate", "lists a code twice"))
    if sum(d.primary for d in drafts) > 1:
        problems.append(FieldProblem(field, "several_primary", "may mark only one diagnosis primary"))
    return problems


def validate_coverage(field: str, draft: CoverageDraft) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not draft.payer_name.strip() or len(draft.payer_name) > 200:
        problems.append(FieldProblem(f"{field}.payerName", "required", "must be 1-200 characters"))
    if not draft.member_id.strip() or len(draft.member_id) > 80:
        problems.append(FieldProblem(f"{field}.memberId", "required", "must be 1-80 characters"))
    if draft.group_number is not None and len(draft.group_number) > 80:
        problems.append(FieldProblem(f"{field}.groupNumber", "too_long", "must be at most 80 characters"))
    return problems


def validate_coverages(field: str, drafts: list[CoverageDraft]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for i, draft in enumerate(drafts):
        problems += validate_coverage(f"{field}[{i}]", draft)
    priorities = [d.priority for d in drafts]
    if len(set(priorities)) != len(priorities):
        problems.append(FieldProblem(field, "duplicate_priority", "lists one priority twice"))
    return problems
