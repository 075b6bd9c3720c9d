"""The project's own checks on a claim batch, the ones pyx12 does not make, run before any 837 is written.

pyx12 checks structure and code lists; it does not check NPI check digits, code formats (ICD-10-CM,
CPT/HCPCS, modifiers, revenue codes), diagnosis pointers past the diagnoses, zero units or charges,
a replacement without the claim it replaces, or statement periods. Problems are `FieldProblem`s whose
path names the claim by its id and a line by its number, 1-based like LX and diagnosis pointers
(`claims[GRP-0042].lines[2].diagnosisPointers`); messages never contain PHI.

`claim_warnings` lists free text the writers will alter (characters X12 cannot carry, over-long values):
the file stays valid, but a biller should know. Identifiers are never altered: they are problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from backend.billing.claims import (
    Address,
    Claim,
    ClaimBatch,
    InstitutionalClaim,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
    Subscriber,
)
from backend.billing.npi import is_valid_npi
from backend.billing.x12 import envelope as x12
from backend.clients.rules import is_icd10cm_format
from backend.errors import FieldProblem

# CPT (5 digits; category II/III: 4 digits then F or T) or HCPCS level II (a letter and 4 digits).
PROCEDURE = re.compile(r"^(\d{5}|\d{4}[FT]|[A-Z]\d{4})$")
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
REVENUE_CODE = re.compile(r"^\d{4}$")
TYPE_OF_BILL = re.compile(r"^0\d{2}[0-9A-Z]$")
PLACE_OF_SERVICE = re.compile(r"^\d{2}$")
TAXONOMY = re.compile(r"^\d{3}[0-9A-Z]{6}X$")
TAX_ID = re.compile(r"^\d{9}$")
STATE = re.compile(r"^[A-Z]{2}$")
ZIP = re.compile(r"^(\d{5}|\d{9})$")
TWO_CHARACTERS = re.compile(r"^[0-9A-Z]{2}$")
SENDER_ID = re.compile(r"^[A-Za-z0-9]{2,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FREQUENCIES = ("1", "7", "8")
SEXES = ("F", "M", "U")
RESPONSIBILITIES = ("P", "S", "T")
ADJUSTMENT_GROUPS = ("CO", "CR", "OA", "PI", "PR")
CARC = re.compile(r"^[A-Z0-9]{1,5}$")
# SBR09 claim filing indicators (5010): CI commercial, MC Medicaid, MA/MB Medicare A/B, BL Blue Cross...
FILING_INDICATORS = frozenset(
    {"11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB"}
    | {"MC", "OF", "TV", "VA", "WC", "ZZ"}
)
MAX_CLAIM_ID = 20  # CLM01 allows 38, but payers keep (and echo in the 835) only 20
MAX_CLAIMS_PER_FILE = 5000  # the TR3 recommends at most 5,000 CLM per transaction
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_DIAGNOSES = {ProfessionalClaim: 12, InstitutionalClaim: 25}  # 837I: ABK + two HI*ABF of 12
MAX_LINES = {ProfessionalClaim: 50, InstitutionalClaim: 999}
MAX_CONDITION_CODES = 24
MAX_CONTROL_NUMBER = 999_999_999


class ClaimRejected(ValueError):
    """A batch the writers refuse to serialize; `problems` lists every reason (paths and codes, no PHI)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems


def reject_unless_clean(batch: ClaimBatch, kind: type[ProfessionalClaim] | type[InstitutionalClaim]) -> None:
    """Raise `ClaimRejected` unless `batch` passes `claim_problems` and holds only claims of `kind`."""
    problems = claim_problems(batch)
    for index, (_, claim) in enumerate(batch.claims):
        if not isinstance(claim, kind):
            problems.append(_problem(_claim_path(claim, index), "wrong_claim_type", "is not this format's"))
    if problems:
        raise ClaimRejected(problems)


def claim_problems(batch: ClaimBatch) -> list[FieldProblem]:
    """Every reason `batch` would make a wrong or rejected 837; [] when it may be written."""
    problems = _batch_problems(batch)
    seen: set[str] = set()
    for index, (subscriber, claim) in enumerate(batch.claims):
        path = _claim_path(claim, index)
        if claim.claim_id in seen:
            problems.append(_problem(f"{path}.claimId", "duplicate", "is used by another claim in the batch"))
        seen.add(claim.claim_id)
        problems += _subscriber_problems(f"{path}.subscriber", subscriber, batch.created_at.date())
        problems += _claim_problems(path, claim, batch.created_at.date())
        if claim.other_payer is not None:
            problems += _other_payer_problems(
                f"{path}.otherPayer", subscriber, claim, batch.created_at.date()
            )
    if len({type(claim) for _, claim in batch.claims}) > 1:
        problems.append(
            _problem("claims", "mixed_claim_types", "mixes professional and institutional claims")
        )
    return problems


def claim_warnings(batch: ClaimBatch) -> list[FieldProblem]:
    """Free text the writers will write altered: characters replaced by spaces, or truncated."""
    warnings = []
    for path, value, max_length in _free_text(batch):
        change = x12.text_change(value, max_length)
        if change == "characters_replaced":
            warnings.append(
                _problem(path, change, "has characters X12 cannot carry; they are written as spaces")
            )
        elif change == "truncated":
            warnings.append(_problem(path, change, f"is cut to the {max_length} characters X12 allows"))
    return warnings


def _batch_problems(batch: ClaimBatch) -> list[FieldProblem]:
    problems = []
    for field, value in (("senderId", batch.sender_id), ("receiverId", batch.receiver_id)):
        if not SENDER_ID.match(value):
            problems.append(_problem(field, "invalid_format", "must be 2 to 15 letters or digits"))
    for field, number in (
        ("interchangeControlNumber", batch.interchange_control_number),
        ("groupControlNumber", batch.group_control_number),
    ):
        if not 1 <= number <= MAX_CONTROL_NUMBER:
            problems.append(_problem(field, "out_of_range", "must be between 1 and 999999999"))
    if batch.usage not in ("P", "T"):
        problems.append(_problem("usage", "invalid_code", "must be P (production) or T (test)"))
    problems += _required_text("submitterName", batch.submitter_name, x12.MAX_ORGANIZATION_NAME)
    problems += _required_text("receiverName", batch.receiver_name, x12.MAX_ORGANIZATION_NAME)
    contact = batch.submitter_contact
    problems += _required_text("submitterContact.name", contact.name, x12.MAX_CONTACT_NAME)
    if not contact.phone and not contact.email:
        problems.append(_problem("submitterContact", "required", "needs a phone number or an email"))
    if contact.phone and not re.match(r"^\d{10,}$", x12.phone_digits(contact.phone)):
        problems.append(_problem("submitterContact.phone", "invalid_format", "must have at least 10 digits"))
    if contact.email and (not EMAIL.match(contact.email.strip()) or x12.DELIMITERS & set(contact.email)):
        problems.append(_problem("submitterContact.email", "invalid_format", "is not an email X12 can carry"))
    provider = batch.billing_provider
    problems += _required_text("billingProvider.name", provider.name, x12.MAX_ORGANIZATION_NAME)
    problems += _npi("billingProvider.npi", provider.npi)
    if not TAX_ID.match(x12.digits(provider.tax_id)):
        problems.append(_problem("billingProvider.taxId", "invalid_format", "must be 9 digits"))
    if not TAXONOMY.match(provider.taxonomy):
        problems.append(_problem("billingProvider.taxonomy", "invalid_format", "is not a taxonomy code"))
    # 5010 requires the billing provider's ZIP+4.
    problems += _address("billingProvider.address", provider.address, nine_digit_zip=True)
    problems += _required_text("payer.name", batch.payer.name, x12.MAX_ORGANIZATION_NAME)
    problems += _identifier("payer.payerId", batch.payer.payer_id, 80, required=True)
    if batch.payer.filing_indicator not in FILING_INDICATORS:
        problems.append(_problem("payer.filingIndicator", "invalid_code", "is not a claim filing indicator"))
    if not batch.claims:
        problems.append(_problem("claims", "required", "a batch needs at least one claim"))
    elif len(batch.claims) > MAX_CLAIMS_PER_FILE:
        problems.append(_problem("claims", "too_many", f"at most {MAX_CLAIMS_PER_FILE} claims per file"))
    return problems


def _subscriber_problems(path: str, subscriber: Subscriber, today: date) -> list[FieldProblem]:
    problems = _identifier(f"{path}.memberId", subscriber.member_id, 80, required=True)
    problems += _required_text(f"{path}.lastName", subscriber.last_name, x12.MAX_LAST_NAME)
    problems += _identifier(f"{path}.groupNumber", subscriber.group_number, 50)
    if subscriber.birth_date > today:
        problems.append(_problem(f"{path}.birthDate", "in_future", "is after the batch date"))
    if subscriber.sex not in SEXES:
        problems.append(_problem(f"{path}.sex", "invalid_code", "must be F, M or U"))
    if subscriber.relationship != "18":
        problems.append(_problem(f"{path}.relationship", "unsupported", "only the member as subscriber (18)"))
    if subscriber.payer_responsibility not in RESPONSIBILITIES:
        problems.append(_problem(f"{path}.payerResponsibility", "invalid_code", "must be P, S or T"))
    return problems + _address(f"{path}.address", subscriber.address, nine_digit_zip=False)


def _claim_problems(path: str, claim: Claim, today: date) -> list[FieldProblem]:
    problems = _identifier(f"{path}.claimId", claim.claim_id, MAX_CLAIM_ID, required=True)
    if claim.frequency not in FREQUENCIES:
        problems.append(_problem(f"{path}.frequency", "invalid_code", "must be 1, 7 or 8"))
    elif claim.frequency in ("7", "8"):
        problems += _identifier(f"{path}.originalClaimRef", claim.original_claim_ref, 50, required=True)
    elif claim.original_claim_ref:
        problems.append(_problem(f"{path}.originalClaimRef", "not_allowed", "only replacements and voids"))
    problems += _identifier(f"{path}.priorAuth", claim.prior_auth, 50)
    max_diagnoses = MAX_DIAGNOSES[type(claim)]
    if not claim.diagnoses:
        problems.append(_problem(f"{path}.diagnoses", "required", "a claim needs a principal diagnosis"))
    elif len(claim.diagnoses) > max_diagnoses:
        problems.append(_problem(f"{path}.diagnoses", "too_many", f"at most {max_diagnoses}"))
    for number, code in enumerate(claim.diagnoses, start=1):
        if not is_icd10cm_format(code):
            problems.append(_problem(f"{path}.diagnoses[{number}]", "invalid_format", "is not ICD-10-CM"))
    if len({x12.diagnosis_code(code) for code in claim.diagnoses}) < len(claim.diagnoses):
        problems.append(_problem(f"{path}.diagnoses", "duplicate", "lists a diagnosis twice"))
    if not claim.lines:
        problems.append(_problem(f"{path}.lines", "required", "a claim needs at least one service line"))
    elif len(claim.lines) > MAX_LINES[type(claim)]:
        problems.append(_problem(f"{path}.lines", "too_many", f"at most {MAX_LINES[type(claim)]}"))
    for number, line in enumerate(claim.lines, start=1):
        problems += _line_problems(f"{path}.lines[{number}]", line, today)
    if isinstance(claim, ProfessionalClaim):
        return problems + _professional_problems(path, claim)
    return problems + _institutional_problems(path, claim)


def _line_problems(path: str, line: ServiceLine, today: date) -> list[FieldProblem]:
    problems = []
    if not PROCEDURE.match(line.procedure.strip().upper()):
        problems.append(_problem(f"{path}.procedure", "invalid_format", "is not a CPT or HCPCS code"))
    if len(line.modifiers) > MAX_MODIFIERS:
        problems.append(_problem(f"{path}.modifiers", "too_many", "at most 4 modifiers"))
    for number, modifier in enumerate(line.modifiers, start=1):
        if not MODIFIER.match(modifier.strip().upper()):
            problems.append(
                _problem(f"{path}.modifiers[{number}]", "invalid_format", "must be 2 letters or digits")
            )
    if not isinstance(line.charge, Decimal) or not line.charge.is_finite():
        problems.append(_problem(f"{path}.charge", "not_decimal", "money must be a Decimal"))
    elif line.charge <= 0:
        problems.append(_problem(f"{path}.charge", "not_positive", "must be more than zero"))
    elif line.charge != line.charge.quantize(Decimal("0.01")):
        problems.append(_problem(f"{path}.charge", "fraction_of_cent", "must be whole cents"))
    if isinstance(line.units, float) or not line.units > 0:
        problems.append(_problem(f"{path}.units", "not_positive", "must be more than zero"))
    if line.service_date > today:
        problems.append(_problem(f"{path}.serviceDate", "in_future", "is after the batch date"))
    return problems


def _professional_problems(path: str, claim: ProfessionalClaim) -> list[FieldProblem]:
    problems = []
    if not PLACE_OF_SERVICE.match(claim.place_of_service):
        problems.append(_problem(f"{path}.placeOfService", "invalid_format", "must be 2 digits"))
    problems += _provider(f"{path}.rendering", claim.rendering)
    for number, line in enumerate(claim.lines, start=1):
        line_path = f"{path}.lines[{number}]"
        if line.place_of_service is not None and not PLACE_OF_SERVICE.match(line.place_of_service):
            problems.append(_problem(f"{line_path}.placeOfService", "invalid_format", "must be 2 digits"))
        pointers = line.diagnosis_pointers
        if not pointers:
            problems.append(_problem(f"{line_path}.diagnosisPointers", "required", "point to a diagnosis"))
        elif len(pointers) > MAX_POINTERS:
            problems.append(_problem(f"{line_path}.diagnosisPointers", "too_many", "at most 4 pointers"))
        if any(not 1 <= pointer <= len(claim.diagnoses) for pointer in pointers):
            problems.append(
                _problem(
                    f"{line_path}.diagnosisPointers", "out_of_range", "points past the claim's diagnoses"
                )
            )
        if len(set(pointers)) < len(pointers):
            problems.append(_problem(f"{line_path}.diagnosisPointers", "duplicate", "repeats a pointer"))
    return problems


def _other_payer_problems(path: str, subscriber: Subscriber, claim: Claim, today: date) -> list[FieldProblem]:
    """The earlier payer's adjudication must say who paid what on which line, and balance: each line's
    charge is what it paid plus its adjustments, and the lines' payments, less the claim-level
    adjustments, add up to the claim's."""
    other = claim.other_payer
    assert other is not None
    problems = _identifier(f"{path}.payer.payerId", other.payer.payer_id, 80, required=True)
    problems += _required_text(f"{path}.payer.name", other.payer.name, x12.MAX_ORGANIZATION_NAME)
    problems += _identifier(f"{path}.memberId", other.member_id, 80, required=True)
    problems += _required_text(f"{path}.lastName", other.last_name, x12.MAX_LAST_NAME)
    problems += _identifier(f"{path}.groupNumber", other.group_number, 50)
    if other.payer.filing_indicator not in FILING_INDICATORS:
        problems.append(_problem(f"{path}.payer.filingIndicator", "invalid_code", "is not an SBR09 code"))
    if (
        other.responsibility not in RESPONSIBILITIES
        or other.responsibility == subscriber.payer_responsibility
    ):
        problems.append(
            _problem(f"{path}.responsibility", "invalid_code", "must be P, S or T, and not this payer's")
        )
    if other.adjudicated_on > today:
        problems.append(_problem(f"{path}.adjudicatedOn", "in_future", "is after the batch date"))
    if len(other.lines) != len(claim.lines):
        return [*problems, _problem(f"{path}.lines", "mismatch", "needs one adjudication per service line")]
    for number, (line, adjudication) in enumerate(zip(claim.lines, other.lines, strict=True), start=1):
        line_path = f"{path}.lines[{number}]"
        if adjudication.paid < 0:
            problems.append(_problem(f"{line_path}.paid", "negative", "must not be negative"))
        answered_code = PROCEDURE.match(adjudication.procedure) or (
            isinstance(claim, InstitutionalClaim) and REVENUE_CODE.match(adjudication.procedure)
        )
        if not answered_code or not all(MODIFIER.match(m) for m in adjudication.modifiers):
            problems.append(_problem(f"{line_path}.procedure", "invalid_format", "is not a CPT/HCPCS code"))
        for a in adjudication.adjustments:
            if a.group not in ADJUSTMENT_GROUPS or not CARC.match(a.reason):
                problems.append(
                    _problem(f"{line_path}.adjustments", "invalid_code", "is not a CAS group/CARC")
                )
        if adjudication.paid + sum((a.amount for a in adjudication.adjustments), Decimal(0)) != line.charge:
            problems.append(
                _problem(line_path, "unbalanced", "paid plus adjustments must equal the line's charge")
            )
    for a in other.claim_adjustments:
        if a.group not in ADJUSTMENT_GROUPS or not CARC.match(a.reason):
            problems.append(_problem(f"{path}.claimAdjustments", "invalid_code", "is not a CAS group/CARC"))
    claim_level = sum((a.amount for a in other.claim_adjustments), Decimal(0))
    if sum((a.paid for a in other.lines), Decimal(0)) - claim_level != other.paid:
        problems.append(
            _problem(f"{path}.paid", "unbalanced", "must equal the lines' payments less claim adjustments")
        )
    return problems


def _institutional_problems(path: str, claim: InstitutionalClaim) -> list[FieldProblem]:
    problems = []
    if not TYPE_OF_BILL.match(claim.type_of_bill):
        problems.append(_problem(f"{path}.typeOfBill", "invalid_format", "must be 4 characters, e.g. 0131"))
    elif claim.type_of_bill[3] != claim.frequency:
        problems.append(_problem(f"{path}.typeOfBill", "frequency_mismatch", "must end with the frequency"))
    if claim.statement_from > claim.statement_to:
        problems.append(_problem(f"{path}.statementTo", "before_start", "is before the statement start"))
    if claim.admission_date is not None and claim.admission_date > claim.statement_to:
        problems.append(_problem(f"{path}.admissionDate", "after_period", "is after the statement period"))
    if not re.match(r"^\d{2}$", claim.patient_status):
        problems.append(_problem(f"{path}.patientStatus", "invalid_format", "must be 2 digits"))
    if not re.match(r"^\d$", claim.admission_type):
        problems.append(_problem(f"{path}.admissionType", "invalid_format", "must be 1 digit"))
    if not re.match(r"^[0-9A-Z]$", claim.point_of_origin):
        problems.append(_problem(f"{path}.pointOfOrigin", "invalid_format", "must be 1 character"))
    if len(claim.condition_codes) > MAX_CONDITION_CODES:
        problems.append(_problem(f"{path}.conditionCodes", "too_many", f"at most {MAX_CONDITION_CODES}"))
    for number, code in enumerate(claim.condition_codes, start=1):
        if not TWO_CHARACTERS.match(code.strip().upper()):
            problems.append(
                _problem(f"{path}.conditionCodes[{number}]", "invalid_format", "must be 2 characters")
            )
    problems += _provider(f"{path}.attending", claim.attending)
    for number, line in enumerate(claim.lines, start=1):
        line_path = f"{path}.lines[{number}]"
        if line.revenue_code is None or not REVENUE_CODE.match(line.revenue_code):
            problems.append(_problem(f"{line_path}.revenueCode", "invalid_format", "must be 4 digits"))
        # A reversed period is one problem, reported above, not one per line.
        ordered = claim.statement_from <= claim.statement_to
        if ordered and not claim.statement_from <= line.service_date <= claim.statement_to:
            problems.append(
                _problem(f"{line_path}.serviceDate", "outside_period", "is outside the statement period")
            )
    return problems


def _provider(path: str, provider: RenderingProvider) -> list[FieldProblem]:
    problems = _npi(f"{path}.npi", provider.npi)
    problems += _required_text(f"{path}.lastName", provider.last_name, x12.MAX_LAST_NAME)
    if provider.taxonomy is not None and not TAXONOMY.match(provider.taxonomy):
        problems.append(_problem(f"{path}.taxonomy", "invalid_format", "is not a taxonomy code"))
    return problems


def _address(path: str, address: Address, *, nine_digit_zip: bool) -> list[FieldProblem]:
    problems = _required_text(f"{path}.line1", address.line1, x12.MAX_ADDRESS_LINE)
    problems += _required_text(f"{path}.city", address.city, x12.MAX_CITY)
    if not STATE.match(address.state.strip().upper()):
        problems.append(_problem(f"{path}.state", "invalid_format", "must be a 2-letter state code"))
    zip_digits = x12.digits(address.zip)
    if not ZIP.match(zip_digits) or (nine_digit_zip and len(zip_digits) != 9):
        expected = "9 digits (ZIP+4)" if nine_digit_zip else "5 or 9 digits"
        problems.append(_problem(f"{path}.zip", "invalid_format", f"must be {expected}"))
    return problems


def _npi(path: str, npi: str) -> list[FieldProblem]:
    if is_valid_npi(npi):
        return []
    return [_problem(path, "invalid_npi", "is not 10 digits with a valid check digit")]


def _identifier(
    path: str, value: str | None, max_length: int, *, required: bool = False
) -> list[FieldProblem]:
    # Identifiers go to the payer verbatim: an altered one would not match, so refuse what X12 cannot carry.
    if not value or not value.strip():
        return [_problem(path, "required", "is required")] if required else []
    if len(value) > max_length:
        return [_problem(path, "too_long", f"must be at most {max_length} characters")]
    if (
        value != value.strip()
        or not value.isascii()
        or not value.isprintable()
        or x12.DELIMITERS & set(value)
    ):
        return [
            _problem(path, "invalid_characters", "has characters X12 cannot carry (* : ^ ~ or non-ASCII)")
        ]
    return []


def _required_text(path: str, value: str, max_length: int) -> list[FieldProblem]:
    if not x12.clean_text(value, max_length):
        return [_problem(path, "required", "must have letters or digits")]
    return []


def _free_text(batch: ClaimBatch) -> Iterator[tuple[str, str, int]]:
    yield "submitterName", batch.submitter_name, x12.MAX_ORGANIZATION_NAME
    yield "submitterContact.name", batch.submitter_contact.name, x12.MAX_CONTACT_NAME
    yield "receiverName", batch.receiver_name, x12.MAX_ORGANIZATION_NAME
    yield "billingProvider.name", batch.billing_provider.name, x12.MAX_ORGANIZATION_NAME
    yield from _address_text("billingProvider.address", batch.billing_provider.address)
    yield "payer.name", batch.payer.name, x12.MAX_ORGANIZATION_NAME
    for index, (subscriber, claim) in enumerate(batch.claims):
        path = _claim_path(claim, index)
        yield f"{path}.subscriber.lastName", subscriber.last_name, x12.MAX_LAST_NAME
        yield f"{path}.subscriber.firstName", subscriber.first_name, x12.MAX_FIRST_NAME
        yield from _address_text(f"{path}.subscriber.address", subscriber.address)
        provider, role = (
            (claim.rendering, "rendering")
            if isinstance(claim, ProfessionalClaim)
            else (claim.attending, "attending")
        )
        yield f"{path}.{role}.lastName", provider.last_name, x12.MAX_LAST_NAME
        yield f"{path}.{role}.firstName", provider.first_name, x12.MAX_FIRST_NAME
        other = claim.other_payer
        if other is not None:
            yield f"{path}.otherPayer.payer.name", other.payer.name, x12.MAX_ORGANIZATION_NAME
            yield f"{path}.otherPayer.lastName", other.last_name, x12.MAX_LAST_NAME
            yield f"{path}.otherPayer.firstName", other.first_name, x12.MAX_FIRST_NAME


def _address_text(path: str, address: Address) -> Iterator[tuple[str, str, int]]:
    yield f"{path}.line1", address.line1, x12.MAX_ADDRESS_LINE
    if address.line2:
        yield f"{path}.line2", address.line2, x12.MAX_ADDRESS_LINE
    yield f"{path}.city", address.city, x12.MAX_CITY


def _claim_path(claim: Claim, index: int) -> str:
    # Claims are named by their id (our patient control number, not PHI); by position when the id is unusable.
    usable = claim.claim_id and len(claim.claim_id) <= MAX_CLAIM_ID and claim.claim_id.isascii()
    return f"claims[{claim.claim_id}]" if usable else f"claims[#{index + 1}]"


def _problem(field: str, code: str, message: str) -> FieldProblem:
    return FieldProblem(field, code, message)
