"""Expanding a session series (RFC 5545 RRULE in a clinic's IANA zone) into concrete sessions.

Rules are expanded on the *local wall clock* and only then converted to UTC, so a weekly 18:00
group stays at 18:00 local across daylight-saving changes (members plan around the local time).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from backend.errors import FieldProblem

# Open-ended programs get sessions this far ahead; a nightly job (later issue) extends the horizon.
OPEN_ENDED_HORIZON = timedelta(weeks=52)
MAX_OCCURRENCES = 1000  # a rule producing more within one horizon is a typo (e.g. FREQ=MINUTELY)


class Action(enum.StrEnum):
    SKIP = "skip"
    MOVE = "move"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Override:
    """An exception to one occurrence, keyed by its local date."""

    on: date
    action: Action
    moved_to: datetime | None = None  # aware instant, for MOVE
    reason: str | None = None


@dataclass(frozen=True)
class Occurrence:
    starts_at: datetime  # aware UTC
    ends_at: datetime
    cancelled: bool = False
    reason: str | None = None
    moved_from: datetime | None = None


def zone(name: str, field: str = "timezone") -> tuple[ZoneInfo | None, list[FieldProblem]]:
    try:
        return ZoneInfo(name), []
    except (ZoneInfoNotFoundError, ValueError):
        return None, [FieldProblem(field, "unknown_timezone", "is not an IANA time zone")]


def validate_rule(rule: str, field: str = "rrule") -> list[FieldProblem]:
    """A rule must parse, carry no DTSTART of its own (the series' first start is it) and be finite-rate."""
    text = rule.strip()
    if not text or "DTSTART" in text.upper() or "\n" in text:
        return [FieldProblem(field, "invalid_rrule", "must be a single RRULE without DTSTART")]
    try:
        rrulestr(text.removeprefix("RRULE:"), dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError):
        return [FieldProblem(field, "invalid_rrule", "is not a valid RFC 5545 RRULE")]
    if any(f"FREQ={f}" in text.upper() for f in ("HOURLY", "MINUTELY", "SECONDLY")):  # not a therapy group
        return [FieldProblem(field, "invalid_rrule", "must repeat at most daily")]
    return []


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` as an aware UTC instant (a time skipped by DST moves forward)."""
    aware = local.replace(tzinfo=tz)
    # Round-trip detects a non-existent local time (spring forward gap): take the post-gap instant.
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != local:
        aware = (local + timedelta(hours=1)).replace(tzinfo=tz)
    return aware.astimezone(UTC)


def expand(
    rule: str,
    first_start: datetime,
    minutes: int,
    tz: ZoneInfo,
    from_day: date,
    until_day: date,
    exceptions: dict[date, Override] | None = None,
) -> list[Occurrence]:
    """Occurrences of `rule` from local wall time `first_start` with local dates in [from_day, until_day]."""
    exceptions = exceptions or {}
    parsed = rrulestr(rule.strip().removeprefix("RRULE:"), dtstart=first_start.replace(tzinfo=None))
    low = datetime.combine(from_day, time.min)
    high = datetime.combine(until_day, time.max)
    length = timedelta(minutes=minutes)
    result: list[Occurrence] = []
    for local in parsed.between(low, high, inc=True):
        if len(result) >= MAX_OCCURRENCES:
            break
        starts = local_to_utc(local, tz)
        exception = exceptions.get(local.date())
        if exception is None:
            result.append(Occurrence(starts, starts + length))
        elif exception.action is Action.CANCEL:
            result.append(Occurrence(starts, starts + length, cancelled=True, reason=exception.reason))
        elif exception.action is Action.MOVE and exception.moved_to is not None:
            moved = exception.moved_to.astimezone(UTC)
            result.append(Occurrence(moved, moved + length, reason=exception.reason, moved_from=starts))
        # SKIP: no session that day.
    return result


def horizon(starts_on: date, ends_on: date | None) -> date:
    """The last date sessions are materialized for: the program's end, or 52 weeks for open-ended ones."""
    return ends_on if ends_on is not None else starts_on + OPEN_ENDED_HORIZON


@dataclass(frozen=True)
class SeriesSplit:
    """Editing a series from `on`: the old one ends the day before, the new one starts that day."""

    old_effective_until: date
    new_first_start: datetime


def split_series(old_first_start: datetime, on: date, new_first_start: datetime | None) -> SeriesSplit:
    """Future sessions only: past ones keep the rule they were made by."""
    first = new_first_start or datetime.combine(max(on, old_first_start.date()), old_first_start.time())
    return SeriesSplit(on - timedelta(days=1), first.replace(tzinfo=None))
