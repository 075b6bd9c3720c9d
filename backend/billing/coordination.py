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
| what is refused        | a professional claim of several lines, an IOP/PHP week whose days the 835  |
|                        | did not answer one by one, or an adjudication whose payment and            |
|                        | adjustments do not add up to the charge                                    |

An IOP/PHP week (837I) goes to the secondary as it was billed to the primary (revenue codes, HCPCS,
units and charges), each day carrying the primary's answer to it, and the claim-level adjustments in
2320.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from backend.billing.claims import (
    Adjustment,
    InstitutionalClaim,
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
class LineAnswer:
    """The primary's answer to one service line (835 SVC): the code it answered (a revenue code when
    that is all it echoed), the day, the line's charge, what it paid and the line's adjustments."""

    service_date: date | None
    procedure: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]


@dataclass(frozen=True)
class PrimaryAdjudication:
    """The primary's 835 answer to one claim: its outcome, what it paid, every adjustment (claim and
    line level), the day it was remitted, and (when the 835 gave them) its claim-level adjustments
    and each line's answer."""

    outcome: str
    charge: Decimal
    paid: Decimal
    adjustments: tuple[Adjustment, ...]
    adjudicated_on: date
    claim_adjustments: tuple[Adjustment, ...] = ()
    lines: tuple[LineAnswer, ...] = ()


def _owed_problems(adjudication: PrimaryAdjudication) -> list[FieldProblem]:
    """An adjudication (not a reversal) that left something unpaid, or why not."""
    if adjudication.outcome not in ADJUDICATED:
        return [FieldProblem("claimId", "not_adjudicated", "the primary payer has not adjudicated it")]
    if adjudication.paid >= adjudication.charge:
        return [FieldProblem("claimId", "nothing_owed", "the primary payer paid the whole charge")]
    return []


def secondary_problems(claim: ProfessionalClaim, adjudication: PrimaryAdjudication) -> list[FieldProblem]:
    """Why the primary's answer to `claim` leaves nothing a secondary claim can carry; [] if it can."""
    owed = _owed_problems(adjudication)
    if owed:
        return owed
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


def _other_payer(
    subscriber: Subscriber,
    payer: Payer,
    adjudication: PrimaryAdjudication,
    lines: tuple[LineAdjudication, ...],
    claim_adjustments: tuple[Adjustment, ...] = (),
) -> OtherPayer:
    """The primary as the secondary claim names it: the member as it knows them, what it paid, when."""
    return OtherPayer(
        payer=payer,
        member_id=subscriber.member_id,
        last_name=subscriber.last_name,
        first_name=subscriber.first_name,
        group_number=subscriber.group_number,
        responsibility=subscriber.payer_responsibility,
        paid=adjudication.paid,
        adjudicated_on=adjudication.adjudicated_on,
        lines=lines,
        claim_adjustments=claim_adjustments,
    )


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
    answered = LineAdjudication(line.procedure, line.modifiers, adjudication.paid, adjudication.adjustments)
    other = _other_payer(primary_subscriber, primary_payer, adjudication, (answered,))
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


def _answers(claim: InstitutionalClaim, adjudication: PrimaryAdjudication) -> tuple[LineAnswer, ...] | None:
    """The 835's answer to each day of the week, in the claim's line order: by the day when the payer
    echoed every one, else by position; None when it did not answer each line."""
    answers = adjudication.lines
    if len(answers) != len(claim.lines):
        return None
    by_day = {a.service_date: a for a in answers if a.service_date is not None}
    if len(by_day) == len(answers) and all(line.service_date in by_day for line in claim.lines):
        return tuple(by_day[line.service_date] for line in claim.lines)
    return answers


def secondary_week_problems(
    claim: InstitutionalClaim, adjudication: PrimaryAdjudication
) -> list[FieldProblem]:
    """Why the primary's answer to an IOP/PHP week leaves nothing a secondary claim can carry; [] if it
    can: adjudicated with something unpaid, each day answered and balanced, the days' payments less
    the claim-level adjustments making the claim's."""
    owed = _owed_problems(adjudication)
    if owed:
        return owed
    answers = _answers(claim, adjudication)
    if answers is None:
        return [FieldProblem("claimId", "days_unanswered", "the primary's 835 did not answer each day")]
    days_balance = all(
        a.paid + sum((x.amount for x in a.adjustments), Decimal(0)) == line.charge
        for line, a in zip(claim.lines, answers, strict=True)
    )
    claim_level = sum((a.amount for a in adjudication.claim_adjustments), Decimal(0))
    if not days_balance or sum((a.paid for a in answers), Decimal(0)) - claim_level != adjudication.paid:
        return [FieldProblem("claimId", "unbalanced", "the primary's payment and adjustments do not add up")]
    return []


def secondary_week(
    primary: InstitutionalClaim,
    primary_subscriber: Subscriber,
    primary_payer: Payer,
    secondary_subscriber: Subscriber,
    adjudication: PrimaryAdjudication,
    claim_id: str,
    prior_auth: str | None = None,
) -> tuple[Subscriber, InstitutionalClaim]:
    """The IOP/PHP week to the secondary payer (call only when `secondary_week_problems` is empty): the
    days as billed to the primary, each with the primary's answer to it."""
    answers = _answers(primary, adjudication)
    assert answers is not None
    days = tuple(LineAdjudication(a.procedure, a.modifiers, a.paid, a.adjustments) for a in answers)
    other = _other_payer(
        primary_subscriber, primary_payer, adjudication, days, adjudication.claim_adjustments
    )
    claim = replace(
        primary,
        claim_id=claim_id,
        frequency="1",
        original_claim_ref=None,
        type_of_bill=primary.type_of_bill[:-1] + "1",
        prior_auth=prior_auth,
        other_payer=other,
    )
    return replace(secondary_subscriber, payer_responsibility="S"), claim
