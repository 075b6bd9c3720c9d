"""Coordination-of-benefits loops shared by 837P and 837I: what an earlier payer did with the claim.

2320 SBR (the earlier payer's responsibility, group, filing indicator), CAS (its claim-level
adjustments, by group), AMT*D (what it paid), OI (benefits assigned, release on file); 2330A the
member as it knows them; 2330B the payer. Per line, 2430 SVD (its payment of the line as it was
billed to it; on an 837I with the line's revenue code), CAS (the line's adjustments) and DTP*573.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby

from backend.billing.claims import Adjustment, LineAdjudication, OtherPayer, ServiceLine
from backend.billing.x12.checks import PROCEDURE
from backend.billing.x12.envelope import amount, d8, decimal_text, organization, person, procedure, segment

#: Reason-amount pairs one CAS segment carries (CAS02..CAS19 in threes: reason, amount, quantity).
CAS_REASONS = 6


def other_payer_loops(other: OtherPayer) -> list[str]:
    """2320 (with claim-level CAS), 2330A and 2330B."""
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
        *_cas(other.claim_adjustments),
        segment("AMT", "D", amount(other.paid)),
        segment("OI", "", "", "Y", "", "", "Y"),  # benefits assigned; release of information on file
        person("IL", other.last_name, other.first_name, "MI", other.member_id),
        organization("PR", other.payer.name, "PI", other.payer.payer_id),
    ]


def line_adjudication(
    other: OtherPayer, adjudication: LineAdjudication, line: ServiceLine, institutional: bool = False
) -> list[str]:
    """2430: the earlier payer's payment of the line, its adjustments (one CAS per group) and date.
    On an 837I, SVD04 is the line's revenue code and the procedure is given only when the payer
    answered with one (not a revenue code alone)."""
    coded = replace(line, procedure=adjudication.procedure, modifiers=adjudication.modifiers)
    code, revenue = procedure(coded), ""
    if institutional:
        code = code if PROCEDURE.match(adjudication.procedure) else ""
        revenue = line.revenue_code or ""
    svd = segment(
        "SVD", other.payer.payer_id, amount(adjudication.paid), code, revenue, decimal_text(line.units)
    )
    return [svd, *_cas(adjudication.adjustments), segment("DTP", "573", "D8", d8(other.adjudicated_on))]


def _cas(adjustments: tuple[Adjustment, ...]) -> list[str]:
    segments = []
    for group, items in groupby(sorted(adjustments, key=lambda a: a.group), key=lambda a: a.group):
        listed = list(items)
        for start in range(0, len(listed), CAS_REASONS):
            segments.append(segment("CAS", group, *_triplets(listed[start : start + CAS_REASONS])))
    return segments


def _triplets(adjustments: list[Adjustment]) -> list[str]:
    """Reason, amount and an empty quantity per adjustment (the last quantity is dropped as trailing)."""
    return [value for a in adjustments for value in (a.reason, amount(a.amount), "")]
