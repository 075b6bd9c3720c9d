"""Credentials, load caps and co-facilitation rules."""

from __future__ import annotations

from datetime import date, timedelta

from backend.staff.rules import Caps, cap_exceeded, effective_caps, facilitator_problems, missing_credentials


def test_credential_must_be_held_and_valid_through_the_last_session() -> None:
    """Missing or expiring-before-the-last-session credentials block assignment; no expiry never expires."""
    last = date(2026, 6, 30)
    assert missing_credentials(["DBT"], {"DBT": None}, last) == []
    assert missing_credentials(["dbt"], {"DBT": date(2026, 7, 1)}, last) == []
    assert missing_credentials(["DBT"], {"DBT": date(2026, 6, 1)}, last) == ["DBT"]
    assert missing_credentials(["DBT", "LCSW"], {"DBT": None}, last) == ["LCSW"]


def test_load_caps_per_local_day_and_iso_week() -> None:
    """A fifth group on one day, or a thirteenth in one ISO week, exceeds the default caps."""
    caps = effective_caps(4, 12, None, None)
    monday = date(2026, 5, 4)
    assert cap_exceeded([monday] * 4, caps) is None
    day = cap_exceeded([monday] * 5, caps)
    assert day is not None and day.period == "day" and day.on == monday
    week = [monday + timedelta(days=d) for d in range(5) for _ in range(2)] + [monday + timedelta(days=5)] * 3
    over = cap_exceeded(week, caps)
    assert over is not None and over.period == "week" and over.count == 13 and over.on == monday
    # Weeks do not bleed into each other.
    assert cap_exceeded([monday + timedelta(days=d) for d in range(0, 70, 1)], caps) is None


def test_staff_override_wins_over_clinic_default() -> None:
    """A per-staff cap replaces the clinic's."""
    assert effective_caps(4, 12, 2, None) == Caps(2, 12)
    assert cap_exceeded([date(2026, 5, 4)] * 3, Caps(2, 12)) is not None


def test_cofacilitator_required_where_the_program_says() -> None:
    """A program needing a co-facilitator rejects a lead alone, and the same person twice."""
    assert facilitator_problems("a", None, False, "lead", "co") == []
    assert facilitator_problems("a", None, True, "lead", "co")[0].code == "cofacilitator_required"
    assert facilitator_problems("a", "a", True, "lead", "co")[0].code == "same_as_lead"
