"""42 CFR Part 2 consents: what a member agreed to disclose, to whom, for what, until when.

Pure rules: validation and `covering_consent` (callers load a member's consents with
backend.compliance.part2.consent_store and ask it).

42 CFR 2.31 (as amended in 2024): a consent names recipients (a program, a person, a payer, an
organisation outside the clinic by its name, or, in one consent, every recipient acting for
treatment, payment and health care operations), the
purposes, what may be disclosed, and an expiration date or event; it holds until it expires or
the patient revokes it. A revoked consent is never used again, whatever instant is asked about.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from backend.errors import FieldProblem


class Purpose(enum.StrEnum):
    TREATMENT = "treatment"
    PAYMENT = "payment"
    OPERATIONS = "operations"
    OTHER = "other"


class RecipientKind(enum.StrEnum):
    PROGRAM = "program"
    PERSON = "person"
    PAYER = "payer"
    #: An organisation outside the clinic (a provider, a court, an employer), named in words.
    ORGANIZATION = "organization"
    TPO = "tpo"


#: The longest organisation name a consent (or a disclosure) records.
ORGANIZATION_NAME_MAX = 200


class Category(enum.StrEnum):
    """What may be disclosed. NOTES is the group note plus the member's own section."""

    DIAGNOSES = "diagnoses"
    NOTES = "notes"
    ATTENDANCE = "attendance"
    ALL = "all"


#: The purposes a TPO consent serves (2024 rule: one consent for all future TPO).
TPO_PURPOSES = frozenset({Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS})
#: The specific categories that together amount to ALL.
SPECIFIC_CATEGORIES = frozenset({Category.DIAGNOSES, Category.NOTES, Category.ATTENDANCE})


@dataclass(frozen=True)
class Recipient:
    """Who receives: a program, a staff member (PERSON) or a payer by id; an ORGANIZATION by its
    name; TPO has neither."""

    kind: RecipientKind
    id: uuid.UUID | None
    name: str | None = None

    def same_as(self, other: Recipient) -> bool:
        """The same recipient: the same id, or for organisations the same name (case and spacing aside)."""
        if self.kind != other.kind:
            return False
        if self.kind == RecipientKind.ORGANIZATION:
            return _name_key(self.name) == _name_key(other.name)
        return self.id == other.id


def _name_key(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


@dataclass(frozen=True)
class ConsentTerms:
    id: uuid.UUID
    client_id: uuid.UUID
    recipients: tuple[Recipient, ...]
    purposes: frozenset[Purpose]
    categories: frozenset[Category]
    starts_at: datetime
    ends_at: datetime | None
    end_event: str | None
    revoked_at: datetime | None
    #: When staff recorded that the end event happened (the consent ends then).
    end_event_recorded_at: datetime | None = None


@dataclass(frozen=True)
class ConsentDraft:
    """A consent as entered, before validation."""

    client_id: uuid.UUID
    recipients: tuple[Recipient, ...]
    purposes: frozenset[Purpose]
    other_purpose: str | None
    categories: frozenset[Category]
    starts_at: datetime
    ends_at: datetime | None
    end_event: str | None


def validate_consent(draft: ConsentDraft) -> list[FieldProblem]:
    """The problems with a draft consent, each naming the GraphQL input field."""
    problems: list[FieldProblem] = []
    if not draft.recipients:
        problems.append(FieldProblem("recipients", "required", "Name at least one recipient."))
    for i, recipient in enumerate(draft.recipients):
        problem = _recipient_problem(recipient)
        if problem is not None:
            problems.append(FieldProblem(f"recipients[{i}]", *problem))
            break
    if not draft.purposes:
        problems.append(FieldProblem("purposes", "required", "Name at least one purpose."))
    if Purpose.OTHER in draft.purposes and not (draft.other_purpose or "").strip():
        problems.append(FieldProblem("otherPurpose", "required", "Describe the other purpose."))
    if not draft.categories:
        problems.append(FieldProblem("categories", "required", "Say what may be disclosed."))
    if draft.ends_at is None and not (draft.end_event or "").strip():
        # 42 CFR 2.31(a)(6): an expiration date or event ("none" suffices for a TPO consent).
        problems.append(FieldProblem("endsAt", "required", "Give an end date or an end event."))
    if draft.ends_at is not None and draft.ends_at <= draft.starts_at:
        problems.append(FieldProblem("endsAt", "before_start", "The end must come after the start."))
    return problems


def _recipient_problem(recipient: Recipient) -> tuple[str, str] | None:
    """(code, message) when a recipient is not named the way its kind needs."""
    if recipient.kind == RecipientKind.ORGANIZATION:
        name = (recipient.name or "").strip()
        if recipient.id is not None or not name:
            return "invalid", "An organisation is named by its name (no id)."
        if len(name) > ORGANIZATION_NAME_MAX:
            return "too_long", f"The name is longer than {ORGANIZATION_NAME_MAX} characters."
        return None
    if recipient.name is not None:
        return "invalid", "Only an organisation is named by its name."
    if (recipient.kind == RecipientKind.TPO) != (recipient.id is None):
        return "invalid", "Program, person and payer recipients need an id; TPO has none."
    return None


def is_active(consent: ConsentTerms, at: datetime) -> bool:
    """Started, not expired, its end event not recorded, never revoked."""
    if consent.revoked_at is not None:
        return False
    if at < consent.starts_at:
        return False
    if consent.ends_at is not None and at >= consent.ends_at:
        return False
    return consent.end_event_recorded_at is None or at < consent.end_event_recorded_at


def _serves(consent: ConsentTerms, recipient: Recipient, purpose: Purpose) -> bool:
    if purpose not in consent.purposes:
        return False
    for named in consent.recipients:
        if named.kind == RecipientKind.TPO and purpose in TPO_PURPOSES:
            return True
        if named.same_as(recipient):
            # A payer receives for payment (and its operations), never for treatment.
            return not (named.kind == RecipientKind.PAYER and purpose == Purpose.TREATMENT)
    return False


def _discloses(consent: ConsentTerms, category: Category) -> bool:
    if Category.ALL in consent.categories or category in consent.categories:
        return True
    return category == Category.ALL and consent.categories >= SPECIFIC_CATEGORIES


def covering_consent(
    consents: Iterable[ConsentTerms], recipient: Recipient, purpose: Purpose, category: Category, at: datetime
) -> ConsentTerms | None:
    """The first consent active at `at` that lets `recipient` receive `category` for `purpose`."""
    for consent in consents:
        if is_active(consent, at) and _serves(consent, recipient, purpose) and _discloses(consent, category):
            return consent
    return None
