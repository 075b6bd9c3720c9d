"""Booking arithmetic: each resource owns one stretch ("lane") of a single number line.

A booking of lane L from t0 to t1 (epoch seconds) is [L*LANE_WIDTH + t0, L*LANE_WIDTH + t1). Two
bookings overlap on the line exactly when they are for the same resource and overlapping times,
so one GiST exclusion constraint on int8range (`no_double_booking`) forbids double booking with
no extension, and concurrent transactions booking the same slot cannot both commit.
"""

from __future__ import annotations

import re
from datetime import datetime

LANE_WIDTH = 10**10  # seconds: beyond year 2286, so lanes never touch


def span(lane: int, starts_at: datetime, ends_at: datetime) -> tuple[int, int]:
    base = lane * LANE_WIDTH
    return base + int(starts_at.timestamp()), base + int(ends_at.timestamp())


def lane_of(position: int) -> int:
    return position // LANE_WIDTH


_KEY = re.compile(r"\(span\)=\(\[(\d+),")


def conflicting_lanes(detail: str | None) -> list[int]:
    """Lanes named in PostgreSQL's exclusion-violation detail (numbers only: no PHI there)."""
    return sorted({lane_of(int(m)) for m in _KEY.findall(detail or "")})
