"""837P professional claims (005010X222A1): one batch, one interchange, one claim per 2000B subscriber.

Per claim: 2300 CLM (CLM05 = place of service : B : frequency), REF*G1 prior authorization, REF*F8
the payer's claim number for a replacement (7) or void (8), HI (ABK principal, ABF others, dots
dropped), 2310B rendering provider (omitted when the billing provider rendered the service, as the
TR3 asks), on a claim to a secondary payer the primary's adjudication (2320 SBR, AMT*D paid, OI;
2330A the member as the primary knows them; 2330B the primary payer), then per line 2400 LX, SV1
(HC:code:modifiers, charge, UN, units, place of service only when it differs from the claim's,
diagnosis pointers), DTP*472 the service date and, after a primary, 2430 SVD (the primary's payment
of the line), CAS (its adjustments, by group) and DTP*573 (its adjudication date).
"""

from __future__ import annotations

from backend.billing.claims import BillingProvider, Claim, ClaimBatch, ProfessionalClaim
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

IMPLEMENTATION = "005010X222A1"


def write_837p(batch: ClaimBatch) -> str:
    """The 837P file for `batch`; raises `ClaimRejected` (every problem) rather than write a bad file."""
    reject_unless_clean(batch, ProfessionalClaim)
    return write_transaction(batch, IMPLEMENTATION, _claim)


def _claim(claim: Claim, billing: BillingProvider) -> list[str]:
    assert isinstance(claim, ProfessionalClaim)  # reject_unless_clean refused any other kind
    segments = [
        segment(
            "CLM",
            claim.claim_id,
            amount(claim.total_charge),
            "",
            "",
            composite(claim.place_of_service, "B", claim.frequency),
            "Y",  # provider signature on file
            "A",  # assigned
            "Y",  # benefits assigned to the provider
            "Y",  # release of information: signed statement on file
        )
    ]
    if claim.prior_auth:
        segments.append(segment("REF", "G1", claim.prior_auth))
    if claim.frequency in ("7", "8") and claim.original_claim_ref:
        segments.append(segment("REF", "F8", claim.original_claim_ref))
    if claim.notice:
        segments.append(segment("NTE", "ADD", claim.notice))
    codes = [diagnosis_code(code) for code in claim.diagnoses]
    segments.append(
        segment("HI", composite("ABK", codes[0]), *(composite("ABF", code) for code in codes[1:]))
    )
    rendering = claim.rendering
    if rendering.npi != billing.npi:
        segments.append(person("82", rendering.last_name, rendering.first_name, "XX", rendering.npi))
        if rendering.taxonomy:
            segments.append(segment("PRV", "PE", "PXC", rendering.taxonomy))
    if claim.other_payer is not None:
        segments += other_payer_loops(claim.other_payer)
    for number, line in enumerate(claim.lines, start=1):
        place = line.place_of_service if line.place_of_service != claim.place_of_service else None
        segments += [
            segment("LX", str(number)),
            segment(
                "SV1",
                procedure(line),
                amount(line.charge),
                "UN",
                decimal_text(line.units),
                place or "",
                "",
                composite(*(str(pointer) for pointer in line.diagnosis_pointers)),
            ),
            segment("DTP", "472", "D8", d8(line.service_date)),
        ]
        if claim.other_payer is not None:
            segments += line_adjudication(claim.other_payer, claim.other_payer.lines[number - 1], line)
    return segments
