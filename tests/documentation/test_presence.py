"""Attendance marks: who attended, minutes attended, and the arrival, departure and session times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.documentation.presence import (
    ATTENDED,
    Mark,
    attended,
    mark_problems,
    minutes_attended,
    session_span,
    session_time_problems,
)
from backend.enrollment.rules import Attendance
from backend.errors import FieldProblem

A = Attendance
START = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)
END = START + timedelta(minutes=90)


def _codes(problems: Sequence[FieldProblem]) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in problems}


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_only_present_late_and_left_early_count_as_attended() -> None:
    """Absent members (no-show, late cancel, excused) get no group note and no claim."""
    assert {a for a in Attendance if attended(a)} == {A.PRESENT, A.LATE, A.LEFT_EARLY} == ATTENDED


@pytest.mark.parametrize("absence", [A.NO_SHOW, A.LATE_CANCEL, A.EXCUSED])
def test_an_absent_member_has_zero_minutes_attended(absence: Attendance) -> None:
    """No minutes toward a payer's minimum length or the IOP weekly hours for an absence."""
    assert minutes_attended(Mark("c1", absence), START, END) == 0


def test_a_present_member_attended_the_whole_session() -> None:
    """Present means from the start to the end of the session."""
    assert minutes_attended(Mark("c1", A.PRESENT), START, END) == 90


def test_late_arrival_counts_minutes_from_arrival() -> None:
    """Arriving 50 minutes late leaves 40 minutes, under a 45-minute payer minimum."""
    assert minutes_attended(Mark("c1", A.LATE, arrived_at=_at(50)), START, END) == 40


def test_leaving_early_counts_minutes_until_departure() -> None:
    """Leaving after an hour counts 60 minutes."""
    assert minutes_attended(Mark("c1", A.LEFT_EARLY, departed_at=_at(60)), START, END) == 60


@pytest.mark.parametrize("attendance", [A.LATE, A.LEFT_EARLY])
def test_late_and_left_early_counts_the_time_between_both(attendance: Attendance) -> None:
    """Arrived at 0:10, left at 1:05: 55 minutes, whichever of the two marks was chosen."""
    mark = Mark("c1", attendance, arrived_at=_at(10), departed_at=_at(65))
    assert minutes_attended(mark, START, END) == 55
    assert mark_problems([mark], START, END) == []


def test_partial_minutes_are_rounded_down() -> None:
    """44 minutes 59 seconds is 44 whole minutes (not enough for a 45-minute minimum)."""
    assert minutes_attended(Mark("c1", A.LEFT_EARLY, departed_at=_at(44 + 59 / 60)), START, END) == 44


def test_minutes_never_exceed_the_session() -> None:
    """An arrival recorded before the start is clamped, not counted as extra time."""
    assert minutes_attended(Mark("c1", A.LATE, arrived_at=_at(-30)), START, END) == 90


def test_valid_marks_have_no_problems() -> None:
    """A whole session's marks, each with the times it needs."""
    marks = [
        Mark("c1", A.PRESENT),
        Mark("c2", A.LATE, arrived_at=_at(15)),
        Mark("c3", A.LEFT_EARLY, departed_at=_at(75)),
        Mark("c4", A.NO_SHOW),
        Mark("c5", A.EXCUSED),
    ]
    assert mark_problems(marks, START, END) == []


def test_arrival_after_the_session_ended_is_rejected_naming_the_field() -> None:
    """The problem names the mark's arrival, so the form highlights the right input."""
    marks = [Mark("c1", A.PRESENT), Mark("c2", A.LATE, arrived_at=_at(95))]
    assert _codes(mark_problems(marks, START, END)) == {("marks[1].arrivedAt", "not_before_end")}


@pytest.mark.parametrize(
    ("mark", "expected"),
    [
        (Mark("c", A.LATE), ("marks[0].arrivedAt", "required")),
        (Mark("c", A.LEFT_EARLY), ("marks[0].departedAt", "required")),
        (Mark("c", A.LATE, arrived_at=START), ("marks[0].arrivedAt", "not_after_start")),
        (Mark("c", A.LATE, arrived_at=END), ("marks[0].arrivedAt", "not_before_end")),
        (Mark("c", A.LEFT_EARLY, departed_at=START), ("marks[0].departedAt", "not_after_start")),
        (Mark("c", A.LEFT_EARLY, departed_at=END), ("marks[0].departedAt", "not_before_end")),
        (Mark("c", A.PRESENT, arrived_at=_at(5)), ("marks[0].arrivedAt", "not_allowed")),
        (Mark("c", A.NO_SHOW, departed_at=_at(5)), ("marks[0].departedAt", "not_allowed")),
        (
            Mark("c", A.LATE, arrived_at=datetime(2026, 10, 5, 17, 10)),
            ("marks[0].arrivedAt", "timezone_required"),
        ),
        (
            Mark("c", A.LEFT_EARLY, arrived_at=_at(40), departed_at=_at(30)),
            ("marks[0].departedAt", "not_after_arrival"),
        ),
    ],
)
def test_a_mark_with_times_that_do_not_fit_is_refused(mark: Mark, expected: tuple[str, str]) -> None:
    """Late needs an arrival inside the session, left early a departure inside it, others no times."""
    assert _codes(mark_problems([mark], START, END)) == {expected}


def test_times_in_another_zone_compare_as_instants() -> None:
    """An arrival entered in the clinic's zone is checked against the session's UTC times."""
    local = _at(20).astimezone(ZoneInfo("America/Chicago"))
    mark = Mark("c", A.LATE, arrived_at=local)
    assert mark_problems([mark], START, END) == []
    assert minutes_attended(mark, START, END) == 70


def test_a_member_marked_twice_is_refused() -> None:
    """One mark per member per session: the second is named."""
    marks = [Mark("c1", A.PRESENT), Mark("c2", A.PRESENT), Mark("c1", A.NO_SHOW)]
    assert _codes(mark_problems(marks, START, END, prefix="attendance")) == {
        ("attendance[2].clientId", "duplicate")
    }


def test_recorded_times_replace_the_scheduled_ones_when_present() -> None:
    """Minutes count from the actual start and stop; the schedule fills in what was not recorded."""
    assert session_span(None, None, START, END) == (START, END)
    assert session_span(_at(5), None, START, END) == (_at(5), END)
    assert session_span(_at(5), _at(80), START, END) == (_at(5), _at(80))


def test_sensible_session_times_have_no_problems() -> None:
    """Started 5 minutes late, ran 85 minutes."""
    assert session_time_problems(_at(5), _at(90), START) == []


@pytest.mark.parametrize(
    ("started", "ended", "expected"),
    [
        (_at(30), _at(30), {("endedAt", "not_after_start")}),
        (_at(30), _at(10), {("endedAt", "not_after_start")}),
        (
            START + timedelta(hours=12, minutes=1),
            START + timedelta(hours=13),
            {("startedAt", "far_from_schedule")},
        ),
        (START, START + timedelta(hours=12, minutes=1), {("endedAt", "too_long")}),
        (START.replace(tzinfo=None), END, {("startedAt", "timezone_required")}),
        (START, END.replace(tzinfo=None), {("endedAt", "timezone_required")}),
    ],
)
def test_implausible_session_times_are_refused(
    started: datetime, ended: datetime, expected: set[tuple[str, str]]
) -> None:
    """The stop is after the start, both carry a zone, and a typo (AM for PM) is caught."""
    assert _codes(session_time_problems(started, ended, START)) == expected


def test_session_time_problems_are_prefixed() -> None:
    """Inside a larger input the fields are named by their path."""
    assert _codes(session_time_problems(_at(30), _at(10), START, prefix="record")) == {
        ("record.endedAt", "not_after_start")
    }


def test_a_naive_scheduled_start_is_a_bug_not_user_input() -> None:
    """The schedule is stored with zones; a naive one means a programming error."""
    with pytest.raises(ValueError, match="timezone"):
        session_time_problems(START, END, START.replace(tzinfo=None))
