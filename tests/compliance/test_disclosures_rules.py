"""The pure rules of disclosures: notices, the accounting window, which consent covers, what is recordable."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.compliance.disclosures.rules import (
    FULL_NOTICE,
    SHORT_NOTICE,
    Channel,
    DisclosedTo,
    NewDisclosure,
    Notice,
    Refusal,
    RefusalReason,
    accounting_window,
    consent_for,
    consent_recipient,
    consent_scope,
    disclosure_problems,
    notice_text,
    window_problems,
)
from backend.compliance.part2.consents import Category, ConsentTerms, Purpose, Recipient, RecipientKind

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PROVIDER = consent_recipient(DisclosedTo.PROVIDER, None)


def consent(**changes: object) -> ConsentTerms:
    terms = ConsentTerms(
        id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        recipients=(Recipient(RecipientKind.TPO, None),),
        purposes=frozenset({Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS}),
        categories=frozenset({Category.NOTES}),
        starts_at=NOW - timedelta(days=30),
        ends_at=NOW + timedelta(days=300),
        end_event=None,
        revoked_at=None,
    )
    return replace(terms, **changes)  # type: ignore[arg-type]


def disclosure(**changes: object) -> NewDisclosure:
    base = NewDisclosure(
        client_id=uuid.uuid4(),
        recipient_kind=RecipientKind.PAYER,
        recipient_id=uuid.uuid4(),
        recipient_name="Medicaid MCO",
        purpose=Purpose.PAYMENT,
        categories=frozenset({Category.DIAGNOSES}),
        description="claim: 1 Part 2 session",
        consent_id=uuid.uuid4(),
        channel=Channel.CLAIM,
        disclosed_by=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_notices_are_the_42_cfr_2_32_statements() -> None:
    """The full statement opens and closes as the rule words it; the short one is the rule's sentence."""
    assert FULL_NOTICE.startswith("This record which has been disclosed to you is protected by Federal")
    assert FULL_NOTICE.endswith("to further use or redisclose the record (see 42 CFR 2.31).")
    assert SHORT_NOTICE == "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
    assert (notice_text(Notice.FULL), notice_text(Notice.SHORT)) == (FULL_NOTICE, SHORT_NOTICE)


def test_the_accounting_window_defaults_to_three_years_back_from_today() -> None:
    """No dates: the 3 years up to today (42 CFR 2.25), 29 February falling back to the 28th."""
    assert accounting_window(date(2026, 11, 20), None, None) == (date(2023, 11, 20), date(2026, 11, 20))
    assert accounting_window(date(2028, 2, 29), None, None) == (date(2025, 2, 28), date(2028, 2, 29))
    assert accounting_window(date(2026, 11, 20), date(2020, 1, 1), None) == (
        date(2020, 1, 1),
        date(2026, 11, 20),
    )


def test_a_window_backwards_or_starting_after_today_is_refused_naming_the_field() -> None:
    """to before from names `to`; from after today with no end names `from`."""
    today = date(2026, 11, 20)
    assert [p.field for p in window_problems(date(2026, 5, 2), date(2026, 5, 1), today)] == ["to"]
    assert [p.field for p in window_problems(date(2027, 1, 1), None, today)] == ["from"]
    assert window_problems(None, None, today) == []


def test_a_provider_outside_the_clinic_is_covered_only_by_a_tpo_consent() -> None:
    """Only a treatment/payment/operations consent covers an outside provider; a named program does not."""
    tpo = consent()
    named = consent(recipients=(Recipient(RecipientKind.PROGRAM, uuid.uuid4()),))
    assert consent_for([tpo], PROVIDER, Purpose.TREATMENT, Category.NOTES, NOW) == tpo
    assert consent_for([named], PROVIDER, Purpose.TREATMENT, Category.NOTES, NOW) == Refusal(
        RefusalReason.NO_CONSENT
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"revoked_at": NOW - timedelta(days=1)}, RefusalReason.CONSENT_REVOKED),
        ({"ends_at": NOW - timedelta(days=1)}, RefusalReason.CONSENT_EXPIRED),
        (
            {"ends_at": None, "end_event": "discharge", "end_event_recorded_at": NOW},
            RefusalReason.CONSENT_EXPIRED,
        ),
        (
            {"revoked_at": NOW - timedelta(days=1), "ends_at": NOW - timedelta(days=2)},
            RefusalReason.CONSENT_REVOKED,
        ),
        ({"categories": frozenset({Category.DIAGNOSES})}, RefusalReason.NO_CONSENT),
    ],
)
def test_a_consent_that_no_longer_covers_is_named_with_the_reason(
    changes: dict[str, object], reason: RefusalReason
) -> None:
    """Revoked, past its end date, its end event recorded, or for other information: why, and which one."""
    terms = consent(**changes)
    answer = consent_for([terms], PROVIDER, Purpose.TREATMENT, Category.NOTES, NOW)
    assert isinstance(answer, Refusal) and answer.reason is reason
    assert answer.consent_id == (None if reason is RefusalReason.NO_CONSENT else terms.id)


def test_the_consent_scope_explains_recipients_purposes_information_and_end() -> None:
    """The 42 CFR 2.32(b) explanation names the consent, recipients, purposes, information and its end."""
    terms = consent()
    scope = consent_scope(terms)
    assert str(terms.id) in scope and "treating providers" in scope
    assert "operations, payment, treatment" in scope and "information: notes" in scope
    assert "until 2027-09-16" in scope and "revoke" in scope


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"consent_id": None}, "consentId"),
        ({"recipient_kind": "provider", "recipient_id": None, "recipient_name": " "}, "recipient.name"),
        ({"recipient_id": None}, "recipient.id"),
        ({"recipient_kind": "tpo"}, "recipient.kind"),
        ({"categories": frozenset()}, "categories"),
        ({"description": "x" * 301}, "description"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_an_unrecordable_disclosure_names_what_is_wrong(changes: dict[str, object], field: str) -> None:
    """No consent, a provider without a name, an id-less payer, an unknown kind or channel: refused."""
    assert [p.field for p in disclosure_problems(disclosure(**changes))] == [field]
    assert disclosure_problems(disclosure()) == []
