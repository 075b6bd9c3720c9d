"""Validation of clinic settings changes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.errors import FieldProblem


@dataclass(frozen=True)
class SettingsChange:
    """Fields left None keep their value."""

    require_mfa: bool | None = None
    timezone: str | None = None
    absence_threshold: int | None = None
    auto_drop_absent_members: bool | None = None
    max_groups_per_day: int | None = None
    max_groups_per_week: int | None = None


def validate_settings_change(change: SettingsChange) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if change.timezone is not None:
        try:
            ZoneInfo(change.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(FieldProblem("timezone", "unknown_timezone", "is not an IANA time zone"))
    if change.absence_threshold is not None and change.absence_threshold < 2:
        problems.append(FieldProblem("absenceThreshold", "too_small", "must be at least 2"))
    for field, value in (
        ("maxGroupsPerDay", change.max_groups_per_day),
        ("maxGroupsPerWeek", change.max_groups_per_week),
    ):
        if value is not None and value < 1:
            problems.append(FieldProblem(field, "too_small", "must be at least 1"))
    return problems
