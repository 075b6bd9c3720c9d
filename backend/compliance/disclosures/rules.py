"""Disclosures of Part 2 information: the record of each one, the notice that goes with it, and the
accounting a member may ask for.

Pure: values in, values out. 42 CFR 2.32 requires each disclosure made with the patient's consent to
carry a notice (the full statement or the short one below) and a copy of the consent or a clear
explanation of its scope; 42 CFR 2.25 gives the patient an accounting of such disclosures over the
last 3 years. A disclosure record names its content in words that carry no PHI (counts and kinds,
never note text or diagnosis codes), because compliance exports and CSV files quote it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from backend.compliance.part2.consents import (
    ORGANIZATION_NAME_MAX,
    Category,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
    covering_consent,
)
from backend.errors import FieldProblem

# 42 CFR 2.32(a)(1), the full statement, as the rule words it.
FULL_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony that "
    "describes the information contained in this record, in any civil, criminal, administrative, or "
    "legislative proceedings by any Federal, State, or local authority, against the patient, unless "
    "authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as "
    "authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules "
    "prohibit you from making any other use or disclosure of this record unless at least one of the "
    "following applies: (i) Further use or disclosure is expressly permitted by the written consent of "
    "the individual whose information is being disclosed in this record or as otherwise permitted by "
    "42 CFR part 2. (ii) You are a covered entity or business associate and have received the record "
    "for treatment, payment, or health care operations, or (iii) You have received the record from a "
    "covered entity or business associate as permitted by 45 CFR part 164, subparts A and E. A general "
    "authorization for the release of medical or other information is NOT sufficient to meet the "
    "required elements of written consent to further use or redisclose the record (see 42 CFR 2.31)."
)
# 42 CFR 2.32(a)(2), the short statement.
SHORT_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."

# 42 CFR 2.25: the accounting covers disclosures made in the 3 years before the request.
ACCOUNTING_YEARS = 3
DESCRIPTION_MAX = 300
RECIPIENT_NAME_MAX = ORGANIZATION_NAME_MAX


class Notice(StrEnum):
    FULL = "full"
    SHORT = "short"


def notice_text(notice: Notice) -> str:
    return FULL_NOTICE if notice is Notice.FULL else SHORT_NOTICE


class Channel(StrEnum):
    """How the information left the clinic."""

    FHIR_EXPORT = "fhir_export"  # a member record export (FHIR R4 Bundle) to another provider
    CLAIM = "claim"  # a claim with Part 2 content sent to a payer (billing)
    RECORD_RELEASE = "record_release"  # any other release of the record (a PDF, a letter)


class DisclosedTo(StrEnum):
    """Who received it. Program, person and payer name a record of this clinic (by id); a provider
    outside Ensemble is named in words (the values of the first three match consents' RecipientKind)."""

    PROGRAM = "program"
    PERSON = "person"
    PAYER = "payer"
    PROVIDER = "provider"


def consent_recipient(kind: DisclosedTo, recipient_id: uuid.UUID | None, name: str = "") -> Recipient:
    """Whom a consent must name for a release to this recipient. A provider outside the clinic is an
    organisation known by its name: a consent naming it (42 CFR 2.31(a)(4)) or a consent to every
    recipient for treatment, payment and operations (the 2024 TPO consent) covers it."""
    if kind is DisclosedTo.PROVIDER:
        return Recipient(RecipientKind.ORGANIZATION, None, name)
    return Recipient(RecipientKind(kind.value), recipient_id)


@dataclass(frozen=True)
class NewDisclosure:
    """One disclosure about to be recorded (see backend.compliance.disclosures.store).

    `recipient_kind` takes a DisclosedTo value or consents' RecipientKind.PROGRAM/PERSON/PAYER;
    `disclosed_by` is the staff user, None for the system (claims). `description` names what was
    disclosed without PHI ("member record export: 3 Part 2 session notes, 1 SUD diagnosis").
    """

    client_id: uuid.UUID
    recipient_kind: str
    recipient_id: uuid.UUID | None
    recipient_name: str
    purpose: Purpose
    categories: frozenset[Category]
    description: str
    consent_id: uuid.UUID | None
    channel: str
    disclosed_by: uuid.UUID | None
    notice: Notice = Notice.FULL
    consent_scope: str = ""


@dataclass(frozen=True)
class Disclosure:
    """A recorded disclosure, as the accounting lists it."""

    id: uuid.UUID
    client_id: uuid.UUID
    disclosed_at: datetime
    disclosed_by: uuid.UUID | None
    recipient_kind: DisclosedTo
    recipient_id: uuid.UUID | None
    recipient_name: str
    purpose: Purpose
    categories: frozenset[Category]
    description: str
    consent_id: uuid.UUID | None
    consent_scope: str
    channel: Channel
    notice: Notice


def disclosure_problems(disclosure: NewDisclosure) -> list[FieldProblem]:
    """What makes a disclosure unfit to record (empty when it may be recorded)."""
    problems: list[FieldProblem] = []
    kinds = {k.value for k in DisclosedTo}
    if disclosure.recipient_kind not in kinds:
        problems.append(
            FieldProblem("recipient.kind", "invalid", f"must be one of {', '.join(sorted(kinds))}")
        )
    elif disclosure.recipient_kind == DisclosedTo.PROVIDER:
        if not disclosure.recipient_name.strip():
            problems.append(FieldProblem("recipient.name", "required", "is required for a provider"))
    elif disclosure.recipient_id is None:
        problems.append(
            FieldProblem("recipient.id", "required", f"is required for a {disclosure.recipient_kind}")
        )
    if len(disclosure.recipient_name) > RECIPIENT_NAME_MAX:
        problems.append(FieldProblem("recipient.name", "too_long", f"is longer than {RECIPIENT_NAME_MAX}"))
    if disclosure.channel not in {c.value for c in Channel}:
        problems.append(FieldProblem("channel", "invalid", "is not a disclosure channel"))
    if not disclosure.categories:
        problems.append(FieldProblem("categories", "required", "names no category of information"))
    if not disclosure.description.strip():
        problems.append(FieldProblem("description", "required", "is required"))
    elif len(disclosure.description) > DESCRIPTION_MAX:
        problems.append(FieldProblem("description", "too_long", f"is longer than {DESCRIPTION_MAX}"))
    # 42 CFR 2.31/2.33: Part 2 information leaves the program only under the patient's consent.
    if disclosure.consent_id is None:
        problems.append(
            FieldProblem("consentId", "required", "a disclosure names the consent it is made under")
        )
    return problems


class RefusalReason(StrEnum):
    NO_CONSENT = "no_consent"
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_EXPIRED = "consent_expired"


@dataclass(frozen=True)
class Refusal:
    """Why Part 2 content may not go to a recipient: no consent, or the consent that would have
    covered it (revoked or ended), so the user can tell the member which one to renew."""

    reason: RefusalReason
    consent_id: uuid.UUID | None = None


def consent_for(
    consents: Sequence[ConsentTerms], recipient: Recipient, purpose: Purpose, category: Category, at: datetime
) -> ConsentTerms | Refusal:
    """The consent under which `category` may go to `recipient` for `purpose` at `at`, or why not."""
    found = covering_consent(consents, recipient, purpose, category, at)
    if found is not None:
        return found
    # 42 CFR 2.31(a)(7): a revoked consent is never used again; name it so nobody reads "never asked".
    unended = [replace(c, ends_at=None, end_event_recorded_at=None) for c in consents]
    revoked = covering_consent(
        [replace(c, revoked_at=None) for c in unended if c.revoked_at is not None],
        recipient,
        purpose,
        category,
        at,
    )
    if revoked is not None:
        return Refusal(RefusalReason.CONSENT_REVOKED, revoked.id)
    ended = covering_consent(
        [c for c, original in zip(unended, consents, strict=True) if _has_ended(original, at)],
        recipient,
        purpose,
        category,
        at,
    )
    if ended is not None:
        return Refusal(RefusalReason.CONSENT_EXPIRED, ended.id)
    return Refusal(RefusalReason.NO_CONSENT)


def _has_ended(consent: ConsentTerms, at: datetime) -> bool:
    by_date = consent.ends_at is not None and at >= consent.ends_at
    by_event = consent.end_event_recorded_at is not None and at >= consent.end_event_recorded_at
    return by_date or by_event


def consent_scope(terms: ConsentTerms) -> str:
    """42 CFR 2.32(b): a clear explanation of the consent's scope, sent with the disclosed record."""
    recipients = ", ".join(sorted(_recipient_words(r.kind) for r in terms.recipients)) or "none"
    purposes = ", ".join(sorted(p.value for p in terms.purposes)) or "none"
    categories = ", ".join(sorted(c.value for c in terms.categories)) or "none"
    if terms.ends_at is not None:
        until = f"until {terms.ends_at.date().isoformat()}"
    elif terms.end_event:
        until = "until the end event stated in the consent"
    else:
        until = "until revoked in writing"
    given = terms.starts_at.date().isoformat()
    return (
        f"Disclosed under the patient's written consent {terms.id}, given {given}: "
        f"recipients: {recipients}; purposes: {purposes}; information: {categories}; valid {until}. "
        "The patient may revoke this consent in writing at any time."
    )


def _recipient_words(kind: RecipientKind) -> str:
    if kind == RecipientKind.TPO:
        return "treating providers, payers and health care operations"
    return f"a named {kind.value}"


def accounting_window(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The dates an accounting covers (inclusive): by default the 3 years up to today (42 CFR 2.25)."""
    last = end or today
    first = start or _years_before(last, ACCOUNTING_YEARS)
    return first, last


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without it
        return day.replace(year=day.year - years, day=28)


def window_problems(start: date | None, end: date | None, today: date) -> list[FieldProblem]:
    """A window ending before it starts; or, with no end (today), one starting after today."""
    if start is not None and end is not None and end < start:
        return [FieldProblem("to", "before_from", "is before from")]
    if start is not None and end is None and start > today:
        return [FieldProblem("from", "in_future", "is after today")]
    return []


def content_description(channel: str, counts: Iterable[tuple[int, str, str]]) -> str:
    """ "member record export: 3 Part 2 session notes, 1 SUD diagnosis" from (count, singular, plural)."""
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n > 0]
    label = {
        Channel.FHIR_EXPORT: "member record export",
        Channel.CLAIM: "claim",
        Channel.RECORD_RELEASE: "record release",
    }.get(Channel(channel), channel)
    return f"{label}: {', '.join(parts)}" if parts else label


def window_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a date window covers in the clinic's zone: [first 00:00, the day after last 00:00)."""
    start = datetime.combine(first, time.min, tzinfo=zone)
    return start, datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
