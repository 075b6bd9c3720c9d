"""Estimated wait from the program's admission history."""

from __future__ import annotations

from datetime import date, timedelta

from backend.waitlist.estimates import estimate_wait, placement_rate

TODAY = date(2026, 11, 23)


def test_rate_counts_admissions_in_the_last_26_weeks_only() -> None:
    """13 admissions inside the window and one older make half an admission a week."""
    inside = [TODAY - timedelta(weeks=2 * i) for i in range(13)]
    older = [TODAY - timedelta(weeks=27)]
    assert placement_rate(inside + older, TODAY) == 0.5


def test_position_over_rate_gives_weeks_rounded_up() -> None:
    """The third in line at 0.5 admissions a week waits about 6 weeks; the first 2."""
    assert estimate_wait(3, 0.5).weeks == 6
    assert estimate_wait(1, 0.5).weeks == 2
    assert estimate_wait(1, 2.0).weeks == 1


def test_no_history_is_unknown_not_forever() -> None:
    """No admissions in the window: weeks is None and the basis says why."""
    estimate = estimate_wait(1, placement_rate([], TODAY))
    assert estimate.weeks is None and estimate.basis.startswith("unknown")


def test_ineligible_entry_has_no_estimate() -> None:
    """A blocked candidate (no position) gets no estimate."""
    assert estimate_wait(None, 1.0).weeks is None
