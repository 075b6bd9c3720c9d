"""837I institutional claims (005010X223A2) for IOP/PHP: one claim per member and statement period.

Per claim: 2300 CLM (CLM05 = the type of bill's facility and classification digits : A : frequency),
DTP*434 the statement period, DTP*435 the admission date when known, CL1 (admission type, point of
origin, patient status), REF*G1 prior authorization, REF*F8 the payer's claim number for a replacement
(7) or void (8), HI*ABK principal diagnosis, HI*ABF other diagnoses (12 per segment), HI*BG condition
codes (e.g. 92 for Medicare IOP), 2310A attending provider (NM1*71, PRV*AT), then per line 2400 LX,
SV2 (revenue code, HC:code:modifiers, charge, UN, units) and DTP*472 the service date. On a claim
to a secondary payer, the primary's adjudication: 2320/2330A/2330B after the attending provider and
2430 per line (backend.billing.x12.cob).
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.billing.claims import BillingProvider, Claim, ClaimBatch, InstitutionalClaim
from backend.billing.x12.checks import reject_unless_clean
from backend.billing.x12.cob import line_adjudication, other_payer_loops
from backend.billing.x12.envelope import (
    amount,
    composite,
    d8,
    decimal_text,
    diagnosis_code,
    person,
    procedure,
    segment,
    write_transaction,
)

IMPLEMENTATION = "005010X223A2"
CODES_PER_HI = 12


def write_837i(batch: ClaimBatch) -> str:
    """The 837I file for `batch`; raises `ClaimRejected` (every problem) rather than write a bad file."""
    reject_unless_clean(batch, InstitutionalClaim)
    return write_transaction(batch, IMPLEMENTATION, _claim)


def _claim(claim: Claim, billing: BillingProvider) -> list[str]:
    assert isinstance(claim, InstitutionalClaim)  # reject_unless_clean refused any other kind
    segments = [
        segment(
            "CLM",
            claim.claim_id,
            amount(claim.total_charge),
            "",
            "",
            composite(claim.type_of_bill[1:3], "A", claim.frequency),
            "",  # CLM06 is not used on institutional claims
            "A",  # assigned
            "Y",  # benefits assigned to the provider
            "Y",  # release of information: signed statement on file
        ),
        segment("DTP", "434", "RD8", f"{d8(claim.statement_from)}-{d8(claim.statement_to)}"),
    ]
    if claim.admission_date is not None:
        segments.append(segment("DTP", "435", "D8", d8(claim.admission_date)))
    segments.append(segment("CL1", claim.admission_type, claim.point_of_origin, claim.patient_status))
    if claim.prior_auth:
        segments.append(segment("REF", "G1", claim.prior_auth))
    if claim.frequency in ("7", "8") and claim.original_claim_ref:
        segments.append(segment("REF", "F8", claim.original_claim_ref))
    if claim.notice:
        segments.append(segment("NTE", "ADD", claim.notice))
    codes = [diagnosis_code(code) for code in claim.diagnoses]
    segments.append(segment("HI", composite("ABK", codes[0])))
    segments += _repeated_hi("ABF", codes[1:])
    segments += _repeated_hi("BG", [code.strip().upper() for code in claim.condition_codes])
    attending = claim.attending
    segments.append(person("71", attending.last_name, attending.first_name, "XX", attending.npi))
    if attending.taxonomy:
        segments.append(segment("PRV", "AT", "PXC", attending.taxonomy))
    if claim.other_payer is not None:
        segments += other_payer_loops(claim.other_payer)
    for number, line in enumerate(claim.lines, start=1):
        segments += [
            segment("LX", str(number)),
            segment(
                "SV2",
                line.revenue_code or "",
                procedure(line),
                amount(line.charge),
                "UN",
                decimal_text(line.units),
            ),
            segment("DTP", "472", "D8", d8(line.service_date)),
        ]
        if claim.other_payer is not None:
            adjudication = claim.other_payer.lines[number - 1]
            segments += line_adjudication(claim.other_payer, adjudication, line, institutional=True)
    return segments


def _repeated_hi(qualifier: str, codes: Sequence[str]) -> list[str]:
    return [
        segment("HI", *(composite(qualifier, code) for code in codes[start : start + CODES_PER_HI]))
        for start in range(0, len(codes), CODES_PER_HI)
    ]
