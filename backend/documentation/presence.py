"""What an attendance mark means: who attended, for how many minutes, and whether the times make sense.

| Attendance  | Attended | arrivedAt            | departedAt           | Minutes attended              |
|-------------|----------|----------------------|----------------------|-------------------------------|
| present     | yes      | not allowed          | not allowed          | start to end                  |
| late        | yes      | required             | allowed (also left)  | arrival to departure or end   |
| left_early  | yes      | allowed (also late)  | required             | arrival or start to departure |
| no_show     | no       | not allowed          | not allowed          | 0                             |
| late_cancel | no       | not allowed          | not allowed          | 0                             |
| excused     | no       | not allowed          | not allowed          | 0                             |

A member who both arrived late and left early is marked either late or left_early and carries both
times: the minutes (which payers' minimum session lengths and IOP/PHP weekly hours are counted from)
then come from the two times, whichever mark was chosen. Start and end are the session's actual times
as recorded, or the scheduled times when none were recorded (`session_span`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.enrollment.rules import ATTENDED, Attendance
from backend.errors import FieldProblem

__all__ = [
    "ATTENDED",
    "MAX_SCHEDULE_DRIFT",
    "MAX_SESSION_LENGTH",
    "Mark",
    "attended",
    "mark_problems",
    "minutes_attended",
    "session_span",
    "session_time_problems",
]

TIMED = frozenset({Attendance.LATE, Attendance.LEFT_EARLY})
# Typo guards (AM for PM, a wrong day): no group session starts 12 hours off its schedule or lasts longer.
MAX_SCHEDULE_DRIFT = timedelta(hours=12)
MAX_SESSION_LENGTH = timedelta(hours=12)


@dataclass(frozen=True)
class Mark:
    client_key: str
    attendance: Attendance
    arrived_at: datetime | None = None
    departed_at: datetime | None = None


def attended(a: Attendance) -> bool:
    """Present, late or left early: the member was in the group (gets the group note, may be billed)."""
    return a in ATTENDED


def session_span(
    started_at: datetime | None, ended_at: datetime | None, scheduled_start: datetime, scheduled_end: datetime
) -> tuple[datetime, datetime]:
    """The session's actual start and end, each falling back to the scheduled time when not recorded."""
    return started_at or scheduled_start, ended_at or scheduled_end


def minutes_attended(mark: Mark, starts_at: datetime, ends_at: datetime) -> int:
    """Whole minutes (rounded down) the member was in the session; 0 when absent.

    Times outside the session are clamped to it, so an unchecked mark never yields more than the session.
    """
    if not attended(mark.attendance):
        return 0
    begin, end = starts_at, ends_at
    if mark.attendance in TIMED:
        begin = max(begin, mark.arrived_at or begin)
        end = min(end, mark.departed_at or end)
    return max(0, int((end - begin).total_seconds() // 60))


def mark_problems(
    marks: Sequence[Mark], starts_at: datetime, ends_at: datetime, prefix: str = "marks"
) -> list[FieldProblem]:
    """Problems with a session's attendance marks, each naming the field (e.g. "marks[3].arrivedAt")."""
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    # Comparing with naive session times would raise; session_time_problems reports those.
    comparable = _aware(starts_at) and _aware(ends_at)
    for i, mark in enumerate(marks):
        path = f"{prefix}[{i}]"
        if mark.client_key in seen:
            problems.append(FieldProblem(f"{path}.clientId", "duplicate", "is marked twice"))
        seen.add(mark.client_key)
        for name, at, needed_by in (
            ("arrivedAt", mark.arrived_at, Attendance.LATE),
            ("departedAt", mark.departed_at, Attendance.LEFT_EARLY),
        ):
            if at is None:
                if mark.attendance == needed_by:
                    problems.append(
                        FieldProblem(f"{path}.{name}", "required", f"is required when {needed_by}")
                    )
            elif mark.attendance not in TIMED:
                problems.append(FieldProblem(f"{path}.{name}", "not_allowed", "only for late or left early"))
            elif not _aware(at):
                problems.append(FieldProblem(f"{path}.{name}", "timezone_required", "needs a time zone"))
            elif comparable:
                problems += _within_session(at, starts_at, ends_at, f"{path}.{name}")
        problems += _order_problems(mark, f"{path}.departedAt")
    return problems


def _order_problems(mark: Mark, path: str) -> list[FieldProblem]:
    """A member who arrived late and left early left after arriving."""
    arrived, departed = mark.arrived_at, mark.departed_at
    if mark.attendance not in TIMED or arrived is None or departed is None:
        return []
    if not (_aware(arrived) and _aware(departed)) or departed > arrived:
        return []
    return [FieldProblem(path, "not_after_arrival", "must be after arrival")]


def _within_session(at: datetime, starts_at: datetime, ends_at: datetime, path: str) -> list[FieldProblem]:
    # Strictly inside: arriving at the start is "present", leaving at the end is "present" too.
    if at <= starts_at:
        return [FieldProblem(path, "not_after_start", "must be after the session started")]
    if at >= ends_at:
        return [FieldProblem(path, "not_before_end", "must be before the session ended")]
    return []


def session_time_problems(
    starts_at: datetime, ends_at: datetime, scheduled_start: datetime, prefix: str = ""
) -> list[FieldProblem]:
    """Problems with the recorded actual start and stop ("startedAt", "endedAt").

    `scheduled_start` comes from the schedule, not from the user: a naive one is a bug (ValueError).
    """
    if not _aware(scheduled_start):
        raise ValueError("scheduled_start must be timezone-aware")
    start_field, end_field = (f"{prefix}.{f}" if prefix else f for f in ("startedAt", "endedAt"))
    problems = [
        FieldProblem(field, "timezone_required", "needs a time zone")
        for field, at in ((start_field, starts_at), (end_field, ends_at))
        if not _aware(at)
    ]
    if problems:
        return problems
    if abs(starts_at - scheduled_start) > MAX_SCHEDULE_DRIFT:
        problems.append(FieldProblem(start_field, "far_from_schedule", "is over 12 hours from the schedule"))
    if ends_at <= starts_at:
        problems.append(FieldProblem(end_field, "not_after_start", "must be after the start"))
    elif ends_at - starts_at > MAX_SESSION_LENGTH:
        problems.append(FieldProblem(end_field, "too_long", "makes the session longer than 12 hours"))
    return problems


def _aware(at: datetime) -> bool:
    return at.tzinfo is not None and at.utcoffset() is not None
