"""Claims as values, independent of X12: what the claim engine produces and the 837 writers serialize.

A claim is one member's bill for one or more service lines. Its total is always the sum of its lines
(a property, never stored), so the CLM total and the service lines cannot disagree. Professional
claims (CMS-1500 / 837P) carry a place of service and a rendering provider; institutional claims
(UB-04 / 837I, IOP and PHP) carry a type of bill, a statement period and revenue codes.

A batch is one file: one billing provider, one payer, many (subscriber, claim) pairs. The patient is
always the subscriber (relationship "18", self): dependants are not billed by this program.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class ClaimFrequency(enum.StrEnum):
    """CLM05-3: the claim frequency type code (NUBC), also the last digit of an institutional type of bill."""

    ORIGINAL = "1"
    REPLACEMENT = "7"
    VOID = "8"


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    zip: str
    line2: str | None = None


@dataclass(frozen=True)
class BillingProvider:
    """The organization paid for the claims (2010AA): its NPI, employer id (EIN) and taxonomy code."""

    name: str
    npi: str
    tax_id: str
    taxonomy: str
    address: Address


@dataclass(frozen=True)
class RenderingProvider:
    """The clinician who rendered (837P 2310B) or attended (837I 2310A) the service."""

    last_name: str
    first_name: str
    npi: str
    taxonomy: str | None = None


@dataclass(frozen=True)
class Payer:
    """The payer of a batch; `filing_indicator` is SBR09 (CI commercial, MC Medicaid, MB/MA Medicare...)."""

    name: str
    payer_id: str
    filing_indicator: str = "CI"


@dataclass(frozen=True)
class Subscriber:
    """The insured member, also the patient. `payer_responsibility` is SBR01: P primary, S secondary."""

    member_id: str
    last_name: str
    first_name: str
    birth_date: date
    sex: str  # "F" | "M" | "U"
    address: Address
    group_number: str | None = None
    relationship: str = "18"  # self: the only relationship these writers support
    payer_responsibility: str = "P"


@dataclass(frozen=True)
class ServiceLine:
    """One billed service: a procedure (CPT/HCPCS) with modifiers, a charge and units on one date.

    `diagnosis_pointers` are 1-based positions in the claim's diagnoses (837P only); `revenue_code` is for
    institutional lines (837I), `place_of_service` overrides the claim's on a professional line.
    """

    service_date: date
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: int | Decimal
    diagnosis_pointers: tuple[int, ...] = ()
    place_of_service: str | None = None
    revenue_code: str | None = None


@dataclass(frozen=True)
class Adjustment:
    """One claim adjustment (CAS): group (CO, PR, OA, PI, CR), reason code (CARC), amount (negative
    on a reversal)."""

    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class LineAdjudication:
    """What an earlier payer did with one service line (837P 2430): the procedure and modifiers it
    was billed (this payer's line may carry other modifiers), what it paid, and every adjustment, so
    that the line's charge is the paid amount plus the adjustments."""

    procedure: str
    modifiers: tuple[str, ...]
    paid: Decimal
    adjustments: tuple[Adjustment, ...]


@dataclass(frozen=True)
class OtherPayer:
    """The payer that adjudicated the claim before this one (coordination of benefits, 837 loops
    2320, 2330A, 2330B and 2430): the member as that payer knows them, its SBR01 (P when it was the
    primary), what it paid on the claim and on each line (in the claim's line order) and when."""

    payer: Payer
    member_id: str
    last_name: str
    first_name: str
    group_number: str | None
    responsibility: str
    paid: Decimal
    adjudicated_on: date
    lines: tuple[LineAdjudication, ...]
    # Its claim-level adjustments (2320 CAS); a one-line professional claim carries them on its line.
    claim_adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True)
class ProfessionalClaim:
    """A CMS-1500 claim (837P). `claim_id` is our patient control number (CLM01, at most 20 characters),
    unique per submission: the payer echoes it in the 835. `original_claim_ref` is the payer's claim
    number of the claim a replacement (7) or void (8) corrects. `diagnoses` are ICD-10-CM, principal first.
    """

    claim_id: str
    frequency: str
    original_claim_ref: str | None
    place_of_service: str
    diagnoses: tuple[str, ...]
    lines: tuple[ServiceLine, ...]
    rendering: RenderingProvider
    prior_auth: str | None = None
    #: A claim note to the payer (NTE*ADD): the 42 CFR 2.32 notice when the claim carries Part 2 information.
    notice: str | None = None
    #: On a claim to a secondary payer: what the primary did with it.
    other_payer: OtherPayer | None = None

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class InstitutionalClaim:
    """A UB-04 claim (837I) for IOP/PHP. `type_of_bill` is 4 characters ("0131" hospital outpatient,
    "0761" CMHC), its last digit the frequency; the statement period covers every line's service date.
    """

    claim_id: str
    frequency: str
    original_claim_ref: str | None
    type_of_bill: str
    statement_from: date
    statement_to: date
    admission_date: date | None
    patient_status: str
    condition_codes: tuple[str, ...]
    diagnoses: tuple[str, ...]
    lines: tuple[ServiceLine, ...]
    attending: RenderingProvider
    prior_auth: str | None = None
    notice: str | None = None  # as ProfessionalClaim.notice
    admission_type: str = "3"  # CL101, UB-04 FL14: 3 elective
    point_of_origin: str = "1"  # CL102, UB-04 FL15: 1 non-health-care facility point of origin
    other_payer: OtherPayer | None = None  # on a claim to a secondary payer: the primary's answer

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


Claim = ProfessionalClaim | InstitutionalClaim


@dataclass(frozen=True)
class Contact:
    """The submitter's billing contact (PER): a name and a phone and/or an email."""

    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ClaimBatch:
    """One interchange (ISA..IEA) holding one 837 transaction for one payer.

    Control numbers are allocated by the caller (unique per sender, never reused): the interchange
    number becomes ISA13/IEA02 (9 digits), the group number GS06/GE02. `usage` is ISA15: P or T.
    """

    sender_id: str
    receiver_id: str
    submitter_name: str
    submitter_contact: Contact
    receiver_name: str
    billing_provider: BillingProvider
    payer: Payer
    claims: Sequence[tuple[Subscriber, Claim]]
    interchange_control_number: int
    group_control_number: int
    created_at: datetime
    usage: str = "T"  # ISA15: T test, P production (backend.settings.x12_usage)
