"""Expanding series: DST, exceptions, series edits, rule validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from backend.scheduling.recurrence import (
    Action,
    Override,
    expand,
    horizon,
    local_to_utc,
    split_series,
    validate_rule,
    zone,
)

NY = ZoneInfo("America/New_York")


def test_weekly_group_stays_at_local_time_across_dst() -> None:
    """A weekly Tuesday 18:00 group is 18:00 in New York before and after the November DST change."""
    found = expand(
        "FREQ=WEEKLY;BYDAY=TU", datetime(2026, 10, 20, 18, 0), 90, NY, date(2026, 10, 1), date(2026, 11, 30)
    )
    local_hours = {o.starts_at.astimezone(NY).hour for o in found}
    utc_hours = {o.starts_at.astimezone(UTC).hour for o in found}
    assert local_hours == {18}
    assert utc_hours == {22, 23}  # EDT (UTC-4) then EST (UTC-5)
    assert [o.starts_at.astimezone(NY).date().isoformat() for o in found][:3] == [
        "2026-10-20",
        "2026-10-27",
        "2026-11-03",
    ]
    assert all((o.ends_at - o.starts_at).total_seconds() == 90 * 60 for o in found)


def test_exceptions_skip_move_and_cancel_one_occurrence_each() -> None:
    """Skip drops the date, cancel keeps a cancelled session with its reason, move uses the new instant."""
    moved = datetime(2026, 11, 12, 23, 0, tzinfo=UTC)
    overrides = {
        date(2026, 11, 3): Override(date(2026, 11, 3), Action.SKIP, reason="holiday"),
        date(2026, 11, 10): Override(date(2026, 11, 10), Action.MOVE, moved, "room flooded"),
        date(2026, 11, 17): Override(date(2026, 11, 17), Action.CANCEL, reason="facilitator ill"),
    }
    found = expand(
        "FREQ=WEEKLY;BYDAY=TU",
        datetime(2026, 10, 27, 18, 0),
        60,
        NY,
        date(2026, 10, 27),
        date(2026, 11, 24),
        overrides,
    )
    assert len(found) == 4
    assert found[1].starts_at == moved and found[1].moved_from is not None
    assert found[2].cancelled and found[2].reason == "facilitator ill"
    assert date(2026, 11, 3) not in {o.starts_at.astimezone(NY).date() for o in found}


def test_editing_a_series_from_a_date_ends_the_old_rule_the_day_before() -> None:
    """Past sessions keep their rule: the old series ends D-1, the new one starts on D at the old time."""
    split = split_series(datetime(2026, 1, 6, 18, 0), date(2026, 3, 1), None)
    assert split.old_effective_until == date(2026, 2, 28)
    assert split.new_first_start == datetime(2026, 3, 1, 18, 0)
    moved = split_series(datetime(2026, 1, 6, 18, 0), date(2026, 3, 1), datetime(2026, 3, 4, 17, 0))
    assert moved.new_first_start == datetime(2026, 3, 4, 17, 0)


def test_invalid_rules_and_zones_are_named_problems() -> None:
    """A bad RRULE, a DTSTART inside it, an hourly rule and an unknown zone are each a typed problem."""
    assert validate_rule("FREQ=WEEKLY;BYDAY=TU") == []
    assert validate_rule("FREQ=FORTNIGHTLY")[0].code == "invalid_rrule"
    assert validate_rule("DTSTART:20260101T000000\nRRULE:FREQ=DAILY")[0].field == "rrule"
    assert validate_rule("FREQ=HOURLY")[0].code == "invalid_rrule"
    assert zone("Mars/Olympus_Mons")[1][0].code == "unknown_timezone"


def test_open_ended_programs_materialize_a_year_and_gap_times_move_forward() -> None:
    """Open-ended programs get 52 weeks; a wall time inside the spring-forward gap becomes the next hour."""
    assert horizon(date(2026, 1, 1), None) == date(2026, 12, 31)
    assert horizon(date(2026, 1, 1), date(2026, 3, 1)) == date(2026, 3, 1)
    gap = local_to_utc(datetime(2026, 3, 8, 2, 30), NY)
    assert gap.astimezone(NY).hour == 3
