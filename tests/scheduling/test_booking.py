"""Lane arithmetic behind the no-double-booking constraint."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.scheduling.booking import LANE_WIDTH, conflicting_lanes, span


def test_same_times_on_different_lanes_never_overlap() -> None:
    """Two resources booked at the same time occupy disjoint stretches of the number line."""
    start, end = datetime(2026, 5, 1, 18, tzinfo=UTC), datetime(2026, 5, 1, 19, 30, tzinfo=UTC)
    a, b = span(1, start, end), span(2, start, end)
    assert a[1] <= b[0]
    assert b[0] - a[0] == LANE_WIDTH


def test_conflicting_lane_is_read_from_the_violation_detail() -> None:
    """The lane of the resource named in PostgreSQL's exclusion detail is recovered (numbers only)."""
    low, high = span(7, datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 1, tzinfo=UTC))
    detail = f"Key (span)=([{low},{high})) conflicts with existing key (span)=([{low},{high}))."
    assert conflicting_lanes(detail) == [7]
    assert conflicting_lanes(None) == []
