"""Validating a program definition."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from backend.programs.models import ProgramKind
from backend.programs.rules import ProgramDraft, Window, validate_program

DRAFT = ProgramDraft(
    name="DBT Skills",
    kind=ProgramKind.OPEN,
    capacity=10,
    therapeutic_minimum=4,
    default_cpt="90853",
    session_minutes=90,
    timezone="America/New_York",
    starts_on=date(2026, 1, 6),
    ends_on=date(2026, 6, 30),
    rrule="FREQ=WEEKLY;BYDAY=TU",
    first_start=datetime(2026, 1, 6, 18, 0),
    telehealth=False,
    has_room=True,
)


def fields(draft: ProgramDraft) -> set[str]:
    return {p.field for p in validate_program(draft)}


def test_valid_program_has_no_problems() -> None:
    """A complete open program validates."""
    assert validate_program(DRAFT) == []


def test_each_bad_field_is_named() -> None:
    """End before start, bad CPT, unknown zone, bad RRULE, minimum above capacity are named fields."""
    assert fields(replace(DRAFT, ends_on=date(2025, 12, 1))) >= {"endsOn"}
    assert fields(replace(DRAFT, default_cpt="90834")) == {"defaultCpt"}
    assert fields(replace(DRAFT, timezone="Nowhere/City")) == {"timezone"}
    assert fields(replace(DRAFT, rrule="FREQ=NEVER")) == {"rrule"}
    assert fields(replace(DRAFT, therapeutic_minimum=11)) == {"therapeuticMinimum"}
    assert fields(replace(DRAFT, has_room=False)) == {"roomId"}


def test_admission_windows_follow_the_program_kind() -> None:
    """Semi-open programs need non-overlapping windows; open ones take none."""
    semi = replace(DRAFT, kind=ProgramKind.SEMI_OPEN)
    assert fields(semi) == {"admissionWindows"}
    ok = [Window(date(2026, 1, 1), date(2026, 1, 20)), Window(date(2026, 3, 1), date(2026, 3, 14))]
    assert validate_program(replace(semi, windows=ok)) == []
    overlapping = [Window(date(2026, 1, 1), date(2026, 3, 5)), Window(date(2026, 3, 1), date(2026, 3, 14))]
    assert validate_program(replace(semi, windows=overlapping))[0].code == "overlapping"
    assert fields(replace(DRAFT, windows=ok)) == {"admissionWindows"}
