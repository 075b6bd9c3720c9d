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

from dataclasses import replace
from itertools import groupby

from backend.billing.claims import (
    Adjustment,
    BillingProvider,
    Claim,
    ClaimBatch,
    LineAdjudication,
    OtherPayer,
    ProfessionalClaim,
    ServiceLine,
)
from backend.billing.x12.checks import reject_unless_clean
from backend.billing.x12.envelope import (
    amount,
    composite,
    d8,
    decimal_text,
    diagnosis_code,
    organization,
    person,
    procedure,
    segment,
    write_transaction,
)

#: Reason-amount pairs one CAS segment carries (CAS02..CAS19 in threes: reason, amount, quantity).
CAS_REASONS = 6

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
        segments += _other_payer(claim.other_payer)
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
            segments += _line_adjudication(claim.other_payer, claim.other_payer.lines[number - 1], line)
    return segments


def _other_payer(other: OtherPayer) -> list[str]:
    """2320 (the other payer's SBR, what it paid, assignment and release), 2330A and 2330B."""
    return [
        segment(
            "SBR",
            other.responsibility,
            "18",
            other.group_number or "",
            "",
            "",
            "",
            "",
            "",
            other.payer.filing_indicator,
        ),
        segment("AMT", "D", amount(other.paid)),
        segment("OI", "", "", "Y", "", "", "Y"),  # benefits assigned; release of information on file
        person("IL", other.last_name, other.first_name, "MI", other.member_id),
        organization("PR", other.payer.name, "PI", other.payer.payer_id),
    ]


def _line_adjudication(other: OtherPayer, adjudication: LineAdjudication, line: ServiceLine) -> list[str]:
    """2430: the other payer's payment of the line, its adjustments (one CAS per group) and date."""
    segments = [
        segment(
            "SVD",
            other.payer.payer_id,
            amount(adjudication.paid),
            procedure(replace(line, procedure=adjudication.procedure, modifiers=adjudication.modifiers)),
            "",
            decimal_text(line.units),
        )
    ]
    by_group = sorted(adjudication.adjustments, key=lambda a: a.group)
    for group, adjustments in groupby(by_group, key=lambda a: a.group):
        items = list(adjustments)
        for start in range(0, len(items), CAS_REASONS):
            segments.append(segment("CAS", group, *_triplets(items[start : start + CAS_REASONS])))
    segments.append(segment("DTP", "573", "D8", d8(other.adjudicated_on)))
    return segments


def _triplets(adjustments: list[Adjustment]) -> list[str]:
    """Reason, amount and an empty quantity per adjustment (the last quantity is dropped as trailing)."""
    return [value for a in adjustments for value in (a.reason, amount(a.amount), "")]
