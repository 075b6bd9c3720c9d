"""What a billing provider, a payer and a rendering provider must carry before a claim names them (pure)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from backend.billing.npi import is_valid_npi
from backend.errors import FieldProblem

_TAX_ID = re.compile(r"\d{9}")
_TAXONOMY = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")
_STATE = re.compile(r"[A-Z]{2}")
_ZIP = re.compile(r"\d{9}")
_PAYER_CODE = re.compile(r"[A-Za-z0-9]{2,80}")
FILING_INDICATORS = frozenset({"CI", "MC", "MB", "MA", "HM", "BL", "CH", "VA", "WC", "11", "ZZ"})


class FacilityType(enum.StrEnum):
    """The UB-04 type of bill's facility and classification digits for the clinic's IOP/PHP claims (837I
    CLM05-1): the two kinds of facility Medicare lets bill partial hospitalization and IOP by the day."""

    HOSPITAL_OUTPATIENT = "13"
    COMMUNITY_MENTAL_HEALTH_CENTER = "76"


def type_of_bill(facility: FacilityType, frequency: str) -> str:
    """The 4-character type of bill: a leading 0, the facility's two digits, the claim frequency
    ("0131" a hospital outpatient original, "0767" a CMHC replacement)."""
    return f"0{facility.value}{frequency}"


@dataclass(frozen=True)
class ProviderDraft:
    name: str
    npi: str
    tax_id: str
    taxonomy: str
    address_line1: str
    city: str
    state: str
    postal_code: str
    contact_phone: str
    address_line2: str | None = None
    facility_type: FacilityType = FacilityType.HOSPITAL_OUTPATIENT


def npi_problems(npi: str, field: str = "npi") -> list[FieldProblem]:
    if is_valid_npi(npi):
        return []
    return [FieldProblem(field, "invalid_npi", "must be 10 digits with a valid check digit")]


def taxonomy_problems(taxonomy: str, field: str = "taxonomy") -> list[FieldProblem]:
    if _TAXONOMY.fullmatch(taxonomy):
        return []
    return [FieldProblem(field, "invalid_taxonomy", "must be a 10-character taxonomy code (e.g. 101YM0800X)")]


def provider_problems(p: ProviderDraft) -> list[FieldProblem]:
    problems = npi_problems(p.npi) + taxonomy_problems(p.taxonomy)
    if not p.name.strip() or len(p.name) > 120:
        problems.append(FieldProblem("name", "invalid", "must be 1 to 120 characters"))
    if not _TAX_ID.fullmatch(p.tax_id):
        problems.append(FieldProblem("taxId", "invalid_tax_id", "must be the 9-digit EIN, digits only"))
    if not p.address_line1.strip() or not p.city.strip():
        problems.append(FieldProblem("addressLine1", "required", "street and city are required"))
    if not _STATE.fullmatch(p.state):
        problems.append(FieldProblem("state", "invalid_state", "must be a 2-letter state code"))
    if not re.fullmatch(r"\d{10}", p.contact_phone):
        problems.append(FieldProblem("contactPhone", "invalid_phone", "must be 10 digits"))
    if not _ZIP.fullmatch(p.postal_code):
        problems.append(
            FieldProblem(
                "postalCode",
                "invalid_postal_code",
                "must be the 9-digit ZIP+4 (5010 requires it for the billing provider)",
            )
        )
    return problems


def payer_problems(name: str, payer_code: str, filing_indicator: str) -> list[FieldProblem]:
    problems = []
    if not name.strip() or len(name) > 120:
        problems.append(FieldProblem("name", "invalid", "must be 1 to 120 characters"))
    if not _PAYER_CODE.fullmatch(payer_code):
        problems.append(FieldProblem("payerCode", "invalid_payer_code", "must be the clearinghouse payer id"))
    if filing_indicator not in FILING_INDICATORS:
        problems.append(FieldProblem("filingIndicator", "unknown", "is not an X12 claim filing indicator"))
    return problems
