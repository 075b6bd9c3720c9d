"""Estimated wait for a waitlist entry, from the program's placement history (pure).

The rate is how many members the program admitted per week over the last 26 weeks (half a year
smooths out holiday gaps and cohort starts); the entry at rank r then waits about r / rate
weeks. With no admission in that window the estimate is unknown rather than "forever": a new
program has no history yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

HISTORY_WEEKS = 26


@dataclass(frozen=True)
class WaitEstimate:
    """`weeks` is None when unknown; `basis` says how it was computed, for the explanation."""

    weeks: int | None
    basis: str


def placement_rate(admissions: Iterable[date], today: date, weeks: int = HISTORY_WEEKS) -> float:
    """Admissions per week over the `weeks` before `today` (inclusive)."""
    since = today - timedelta(weeks=weeks)
    count = sum(1 for day in admissions if since < day <= today)
    return count / weeks


def estimate_wait(position: int | None, rate_per_week: float) -> WaitEstimate:
    """Weeks until the entry at `position` (1 = next) is placed at the historical rate."""
    if position is None:
        return WaitEstimate(None, "not eligible for placement")
    if rate_per_week <= 0:
        return WaitEstimate(None, f"unknown: no admissions in the last {HISTORY_WEEKS} weeks")
    weeks = math.ceil(position / rate_per_week)
    return WaitEstimate(
        weeks, f"position {position} at {rate_per_week:.2f} admissions per week (last {HISTORY_WEEKS} weeks)"
    )
