"""Part 2 consent rules without a database: validation, `covering_consent`, SUD labelling, relations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.compliance.part2.consents import (
    Category,
    ConsentDraft,
    ConsentTerms,
    Purpose,
    Recipient,
    RecipientKind,
    covering_consent,
    validate_consent,
)
from backend.compliance.part2.segmentation import (
    Part2Facts,
    Part2Relation,
    is_part2_diagnosis,
    part2_relations,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MEMBER = uuid.uuid4()
DBT = Recipient(RecipientKind.PROGRAM, uuid.uuid4())
OTHER_PROGRAM = Recipient(RecipientKind.PROGRAM, uuid.uuid4())
DR_LEE = Recipient(RecipientKind.PERSON, uuid.uuid4())
PAYER = Recipient(RecipientKind.PAYER, uuid.uuid4())
OTHER_PAYER = Recipient(RecipientKind.PAYER, uuid.uuid4())
TPO = Recipient(RecipientKind.TPO, None)


def consent(
    *recipients: Recipient,
    purposes: frozenset[Purpose] = frozenset({Purpose.TREATMENT}),
    categories: frozenset[Category] = frozenset({Category.ALL}),
    ends_at: datetime | None = None,
    end_event: str | None = None,
    revoked_at: datetime | None = None,
    end_event_recorded_at: datetime | None = None,
) -> ConsentTerms:
    return ConsentTerms(
        id=uuid.uuid4(),
        client_id=MEMBER,
        recipients=recipients,
        purposes=purposes,
        categories=categories,
        starts_at=T0,
        ends_at=ends_at,
        end_event=end_event,
        revoked_at=revoked_at,
        end_event_recorded_at=end_event_recorded_at,
    )


def covers(
    terms: ConsentTerms, recipient: Recipient, purpose: Purpose, category: Category, at: datetime
) -> bool:
    return covering_consent([terms], recipient, purpose, category, at) is terms


def test_a_consent_covers_only_between_its_start_and_its_end_date() -> None:
    """Before the start and from the end date on, a dated consent covers nothing."""
    terms = consent(DBT, ends_at=T0 + timedelta(days=30))
    assert not covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, T0 - timedelta(seconds=1))
    assert covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, T0)
    assert covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, T0 + timedelta(days=29))
    assert not covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, T0 + timedelta(days=30))


def test_an_end_event_consent_holds_until_staff_record_the_event() -> None:
    """An event consent has no date: it covers until the event is recorded, and not from then on."""
    open_ended = consent(DBT, end_event="end of treatment")
    assert covers(open_ended, DBT, Purpose.TREATMENT, Category.NOTES, T0 + timedelta(days=900))
    ended = consent(DBT, end_event="end of treatment", end_event_recorded_at=T0 + timedelta(days=10))
    assert covers(ended, DBT, Purpose.TREATMENT, Category.NOTES, T0 + timedelta(days=9))
    assert not covers(ended, DBT, Purpose.TREATMENT, Category.NOTES, T0 + timedelta(days=10))


def test_a_revoked_consent_is_never_used_again_even_for_an_earlier_instant() -> None:
    """Revocation is final: the consent covers nothing, whatever instant is asked about."""
    revoked = consent(DBT, end_event="none", revoked_at=T0 + timedelta(days=5))
    for at in (T0, T0 + timedelta(days=1), T0 + timedelta(days=6)):
        assert covering_consent([revoked], DBT, Purpose.TREATMENT, Category.NOTES, at) is None


def test_a_program_recipient_covers_that_program_only_for_its_purposes_and_categories() -> None:
    """Consent to the DBT program for treatment of diagnoses: not another program, payment or notes."""
    terms = consent(DBT, categories=frozenset({Category.DIAGNOSES}), end_event="none")
    at = T0 + timedelta(hours=1)
    assert covers(terms, DBT, Purpose.TREATMENT, Category.DIAGNOSES, at)
    assert not covers(terms, OTHER_PROGRAM, Purpose.TREATMENT, Category.DIAGNOSES, at)
    assert not covers(terms, DR_LEE, Purpose.TREATMENT, Category.DIAGNOSES, at)
    assert not covers(terms, DBT, Purpose.PAYMENT, Category.DIAGNOSES, at)
    assert not covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, at)
    assert not covers(terms, DBT, Purpose.TREATMENT, Category.ALL, at)


def test_an_organisation_recipient_covers_that_organisation_by_name_whatever_its_case_and_spacing() -> None:
    """Consent to "Riverside Psychiatry" for treatment: the same name written differently is covered;
    another organisation, a program or the TPO of the clinic's own use are not."""
    terms = consent(Recipient(RecipientKind.ORGANIZATION, None, "Riverside Psychiatry"), end_event="none")
    at = T0 + timedelta(hours=1)
    same = Recipient(RecipientKind.ORGANIZATION, None, "  riverside   PSYCHIATRY ")
    assert covers(terms, same, Purpose.TREATMENT, Category.NOTES, at)
    assert not covers(
        terms,
        Recipient(RecipientKind.ORGANIZATION, None, "Riverside Clinic"),
        Purpose.TREATMENT,
        Category.NOTES,
        at,
    )
    assert not covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, at)
    assert not covers(terms, same, Purpose.PAYMENT, Category.NOTES, at)


def test_category_all_covers_each_category_and_all_specific_categories_cover_all() -> None:
    """ALL opens every category; a request for everything needs ALL or every specific category."""
    at = T0 + timedelta(hours=1)
    everything = consent(DBT, end_event="none")
    assert all(covers(everything, DBT, Purpose.TREATMENT, c, at) for c in Category)
    three = consent(
        DBT,
        end_event="none",
        categories=frozenset({Category.DIAGNOSES, Category.NOTES, Category.ATTENDANCE}),
    )
    assert covers(three, DBT, Purpose.TREATMENT, Category.ALL, at)


def test_a_tpo_consent_covers_any_recipient_for_treatment_payment_and_operations() -> None:
    """2024 rule: one TPO consent serves every recipient acting for TPO, never for another purpose."""
    every = frozenset({Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS})
    terms = consent(TPO, purposes=every, end_event="until revoked")
    at = T0 + timedelta(days=400)
    for recipient in (DBT, DR_LEE, PAYER, TPO):
        for purpose in every:
            assert covers(terms, recipient, purpose, Category.NOTES, at), (recipient, purpose)
    with_other = consent(TPO, purposes=every | {Purpose.OTHER}, end_event="none")
    assert not covers(with_other, DBT, Purpose.OTHER, Category.NOTES, at)


def test_a_tpo_consent_serves_only_the_purposes_it_lists() -> None:
    """A TPO consent for treatment only does not open payment."""
    terms = consent(TPO, purposes=frozenset({Purpose.TREATMENT}), end_event="none")
    assert covers(terms, DBT, Purpose.TREATMENT, Category.NOTES, T0)
    assert not covers(terms, PAYER, Purpose.PAYMENT, Category.NOTES, T0)


def test_a_payer_recipient_covers_payment_by_that_payer_only() -> None:
    """Consent to one payer for payment: that payer for payment, not another payer, never treatment."""
    terms = consent(PAYER, purposes=frozenset({Purpose.PAYMENT, Purpose.TREATMENT}), end_event="none")
    assert covers(terms, PAYER, Purpose.PAYMENT, Category.DIAGNOSES, T0)
    assert not covers(terms, OTHER_PAYER, Purpose.PAYMENT, Category.DIAGNOSES, T0)
    assert not covers(terms, PAYER, Purpose.TREATMENT, Category.DIAGNOSES, T0)


def test_covering_consent_names_the_first_covering_consent_and_skips_revoked_ones() -> None:
    """Among several consents, a revoked one is skipped and a live one is named."""
    revoked = consent(DBT, end_event="none", revoked_at=T0)
    live = consent(DBT, end_event="none")
    assert covering_consent([revoked, live], DBT, Purpose.TREATMENT, Category.NOTES, T0) is live
    assert covering_consent([revoked], DBT, Purpose.TREATMENT, Category.NOTES, T0) is None


def draft(**changes: object) -> ConsentDraft:
    values: dict[str, object] = {
        "client_id": MEMBER,
        "recipients": (DBT,),
        "purposes": frozenset({Purpose.TREATMENT}),
        "other_purpose": None,
        "categories": frozenset({Category.ALL}),
        "starts_at": T0,
        "ends_at": T0 + timedelta(days=90),
        "end_event": None,
    }
    values.update(changes)
    return ConsentDraft(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"ends_at": T0 - timedelta(days=1)}, "endsAt", "before_start"),
        ({"ends_at": T0}, "endsAt", "before_start"),
        ({"recipients": ()}, "recipients", "required"),
        ({"purposes": frozenset()}, "purposes", "required"),
        ({"categories": frozenset()}, "categories", "required"),
        ({"ends_at": None, "end_event": "  "}, "endsAt", "required"),
        ({"purposes": frozenset({Purpose.OTHER})}, "otherPurpose", "required"),
        ({"recipients": (Recipient(RecipientKind.PROGRAM, None),)}, "recipients[0]", "invalid"),
        ({"recipients": (Recipient(RecipientKind.TPO, uuid.uuid4()),)}, "recipients[0]", "invalid"),
        ({"recipients": (Recipient(RecipientKind.ORGANIZATION, None, "  "),)}, "recipients[0]", "invalid"),
        (
            {"recipients": (Recipient(RecipientKind.ORGANIZATION, uuid.uuid4(), "Riverside Psychiatry"),)},
            "recipients[0]",
            "invalid",
        ),
        (
            {"recipients": (Recipient(RecipientKind.ORGANIZATION, None, "x" * 201),)},
            "recipients[0]",
            "too_long",
        ),
        (
            {"recipients": (Recipient(RecipientKind.PAYER, uuid.uuid4(), "Aetna"),)},
            "recipients[0]",
            "invalid",
        ),
    ],
)
def test_an_invalid_consent_is_rejected_naming_the_field(
    changes: dict[str, object], field: str, code: str
) -> None:
    """End before start, no recipient, no purpose, no category, no end: a problem on that field."""
    problems = validate_consent(draft(**changes))
    assert (field, code) in {(p.field, p.code) for p in problems}


def test_a_complete_consent_has_no_problems() -> None:
    """A dated consent and an event consent with a TPO recipient are both accepted."""
    assert validate_consent(draft()) == []
    assert validate_consent(draft(recipients=(TPO,), ends_at=None, end_event="until revoked")) == []


@pytest.mark.parametrize(
    ("code", "part2"),
    [
        ("F10.20", True),
        ("f11.10", True),
        (" F12.90 ", True),
        ("F13.20", True),
        ("F14.10", True),
        ("F15.10", True),
        ("F16.20", True),
        ("F18.10", True),
        ("F19.20", True),
        ("F17.210", False),  # nicotine: excluded by 42 CFR 2.11
        ("F33.1", False),
        ("F41.9", False),
        ("Z63.8", False),
        ("F20", False),
    ],
)
def test_sud_diagnoses_except_tobacco_are_part2(code: str, part2: bool) -> None:
    """F10-F16, F18 and F19 are Part 2; F17 (tobacco) and other codes are not."""
    assert is_part2_diagnosis(code) is part2


def test_part2_relations_follow_program_consent_grant_and_self() -> None:
    """Working in the program, a consent to one's program, a grant, or being the member: each its relation."""
    staff, sud, dbt = uuid.uuid4(), uuid.uuid4(), DBT.id
    assert dbt is not None
    at = T0 + timedelta(hours=1)
    inside = Part2Facts(at=at, staff_id=staff, programs=frozenset({sud}))
    assert part2_relations(inside, [sud], [MEMBER], Category.NOTES) == {Part2Relation.PROGRAM}
    outside = Part2Facts(at=at, staff_id=staff, programs=frozenset({dbt}))
    assert part2_relations(outside, [sud], [MEMBER], Category.NOTES) == frozenset()
    consented = Part2Facts(
        at=at, staff_id=staff, programs=frozenset({dbt}), consents={MEMBER: (consent(DBT, end_event="none"),)}
    )
    assert part2_relations(consented, [sud], [MEMBER], Category.NOTES) == {Part2Relation.CONSENT_TREATMENT}
    granted = Part2Facts(at=at, staff_id=staff, break_glass=frozenset({MEMBER}))
    assert part2_relations(granted, [sud], [MEMBER], Category.NOTES) == {Part2Relation.BREAK_GLASS}
    member = Part2Facts(at=at, client_id=MEMBER)
    assert part2_relations(member, [sud], [MEMBER], Category.NOTES) == {Part2Relation.SELF}
