"""Coordination of benefits (pure): after the primary payer adjudicates a member's professional claim,
the member's secondary payer is billed for what is left, with what the primary paid and adjusted.

| step                   | rule                                                                       |
|------------------------|----------------------------------------------------------------------------|
| anything left to bill  | the primary processed the claim (paid, partly paid or denied; a reversal   |
|                        | is not an adjudication) and paid less than the charge                      |
| what is billed         | the same service and charge, coded (place of service, modifiers) by the    |
|                        | secondary payer's rules, with the primary's payment of the line as it was  |
|                        | billed, its adjustments (CAS) and remittance date (837P 2320/2330/2430)    |
| who                    | the member as the secondary payer knows them (SBR01 S), with an            |
|                        | authorization of the secondary coverage (never the primary's)              |
| what is refused        | a claim of several lines (the 835 is stored per claim), or an adjudication |
|                        | whose payment and adjustments do not add up to the charge                  |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from backend.billing.claims import (
    Adjustment,
    LineAdjudication,
    OtherPayer,
    Payer,
    ProfessionalClaim,
    Subscriber,
)
from backend.billing.remittance import Outcome
from backend.errors import FieldProblem

#: The 835 outcomes that are an adjudication a secondary payer can follow (not a reversal).
ADJUDICATED = frozenset({Outcome.PAID, Outcome.PARTIALLY_PAID, Outcome.DENIED})


@dataclass(frozen=True)
class PrimaryAdjudication:
    """The primary's 835 answer to one claim: its outcome, what it paid, every adjustment (claim and
    line level) and the day it was remitted."""

    outcome: str
    charge: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    adjudicated_on: date


def secondary_problems(claim: ProfessionalClaim, adjudication: PrimaryAdjudication) -> list[FieldProblem]:
    """Why the primary's answer to `claim` leaves nothing a secondary claim can carry; [] if it can."""
    if adjudication.outcome not in ADJUDICATED:
        return [FieldProblem("claimId", "not_adjudicated", "the primary payer has not adjudicated it")]
    if adjudication.paid >= adjudication.charge:
        return [FieldProblem("claimId", "nothing_owed", "the primary payer paid the whole charge")]
    if len(claim.lines) != 1:
        return [FieldProblem("claimId", "several_lines", "only one-line claims are billed to a secondary")]
    adjusted = sum((a.amount for a in adjudication.adjustments), Decimal(0))
    if adjudication.paid + adjusted != claim.lines[0].charge:
        return [FieldProblem("claimId", "unbalanced", "the primary's payment and adjustments do not add up")]
    return []


@dataclass(frozen=True)
class Coding:
    """How a payer's rules code the service: place of service and modifiers (decisions.line_coding)."""

    place_of_service: str
    modifiers: tuple[str, ...]


def secondary_claim(
    primary: ProfessionalClaim,
    primary_subscriber: Subscriber,
    primary_payer: Payer,
    secondary_subscriber: Subscriber,
    adjudication: PrimaryAdjudication,
    coding: Coding,
    claim_id: str,
    prior_auth: str | None = None,
) -> tuple[Subscriber, ProfessionalClaim]:
    """The claim to the secondary payer (call only when `secondary_problems` is empty): the primary's
    service and charge coded by the secondary's rules, for the member as the secondary knows them,
    carrying the primary's answer to the line as the primary was billed it."""
    (line,) = primary.lines
    other = OtherPayer(
        payer=primary_payer,
        member_id=primary_subscriber.member_id,
        last_name=primary_subscriber.last_name,
        first_name=primary_subscriber.first_name,
        group_number=primary_subscriber.group_number,
        responsibility=primary_subscriber.payer_responsibility,
        paid=adjudication.paid,
        adjudicated_on=adjudication.adjudicated_on,
        lines=(
            LineAdjudication(line.procedure, line.modifiers, adjudication.paid, adjudication.adjustments),
        ),
    )
    coded = replace(line, modifiers=coding.modifiers, place_of_service=coding.place_of_service)
    claim = replace(
        primary,
        claim_id=claim_id,
        frequency="1",
        original_claim_ref=None,
        prior_auth=prior_auth,
        place_of_service=coding.place_of_service,
        lines=(coded,),
        other_payer=other,
    )
    return replace(secondary_subscriber, payer_responsibility="S"), claim
