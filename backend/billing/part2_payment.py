"""42 CFR Part 2 on a claim (pure): which Part 2 information a member's claim would carry to the
payer, and the consent that allows it.

A claim for a session of a Part 2 (SUD) program tells the payer that SUD treatment took place
(category attendance); an SUD diagnosis on the claim of a member a Part 2 program treats is Part 2
information too (category diagnoses; the caller passes no diagnoses for other members). Either
goes to the payer only under one active consent naming that payer (or treatment, payment and
operations) for payment and covering every category the claim carries (42 CFR 2.31, 2.33). The
claim then carries the 2.32 notice and its sending is a disclosure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.compliance.part2.consents import (
    Category,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
    covering_consent,
)
from backend.compliance.part2.segmentation import is_part2_diagnosis


@dataclass(frozen=True)
class Part2Payment:
    """The Part 2 categories a member's claim carries, and the consent for payment (None: no consent)."""

    categories: frozenset[Category]
    consent_id: uuid.UUID | None


def claim_categories(part2_program: bool, diagnoses: Sequence[str]) -> frozenset[Category]:
    """What Part 2 information a claim with these diagnoses, for a session of this program, carries."""
    found = set()
    if part2_program:
        found.add(Category.ATTENDANCE)
    if any(is_part2_diagnosis(code) for code in diagnoses):
        found.add(Category.DIAGNOSES)
    return frozenset(found)


def payment_consent(
    consents: Iterable[ConsentTerms], payer_id: uuid.UUID, categories: frozenset[Category], at: datetime
) -> ConsentTerms | None:
    """One consent active at `at` that lets the payer receive every category for payment."""
    payer = Recipient(RecipientKind.PAYER, payer_id)
    for consent in consents:
        if all(covering_consent([consent], payer, Purpose.PAYMENT, c, at) for c in categories):
            return consent
    return None


def part2_payment(
    part2_program: bool,
    diagnoses: Sequence[str],
    consents: Iterable[ConsentTerms],
    payer_id: uuid.UUID | None,
    at: datetime,
) -> Part2Payment | None:
    """None when the claim carries no Part 2 information; else its categories and covering consent."""
    categories = claim_categories(part2_program, diagnoses)
    if not categories:
        return None
    consent = payment_consent(consents, payer_id, categories, at) if payer_id else None
    return Part2Payment(categories, consent.id if consent else None)


def with_part2(document: dict[str, Any], payment: Part2Payment | None) -> dict[str, Any]:
    """The stored claim marked with the Part 2 information it carries, for the disclosure at sending."""
    if payment is None:
        return document
    return {
        **document,
        "part2": {
            "categories": sorted(payment.categories),
            "consent_id": str(payment.consent_id) if payment.consent_id else None,
        },
    }


def part2_of(document: dict[str, Any]) -> Part2Payment | None:
    marked = document.get("part2")
    if not marked:
        return None
    consent = marked.get("consent_id")
    return Part2Payment(
        frozenset(Category(c) for c in marked["categories"]), uuid.UUID(consent) if consent else None
    )
