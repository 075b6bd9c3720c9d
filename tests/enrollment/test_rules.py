"""Pure enrollment rules: state machine, admission windows, capacity, absence rule, census."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.enrollment.rules import (
    Attendance,
    EnrollmentStatus,
    Mark,
    ProgramAdmission,
    Window,
    admission_problems,
    attendance_problems,
    can_change,
    census,
    end_problems,
    frees_slot,
    has_room,
    should_flag,
    transition_problems,
)

S = EnrollmentStatus
A = Attendance
START = date(2026, 9, 1)
T0 = datetime(2026, 10, 5, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (S.ACTIVE, S.ON_HOLD_CLINICAL),
        (S.ACTIVE, S.ON_HOLD_ADMINISTRATIVE),
        (S.ACTIVE, S.GRADUATED),
        (S.ACTIVE, S.DROPPED),
        (S.ON_HOLD_CLINICAL, S.ACTIVE),
        (S.ON_HOLD_CLINICAL, S.ON_HOLD_ADMINISTRATIVE),
        (S.ON_HOLD_ADMINISTRATIVE, S.ACTIVE),
        (S.ON_HOLD_ADMINISTRATIVE, S.DROPPED),
    ],
)
def test_allowed_transitions(current: EnrollmentStatus, to: EnrollmentStatus) -> None:
    """Active members may go on hold or leave; members on hold may return or be dropped."""
    assert can_change(current, to)
    assert transition_problems(current, to, START, START) == []


@pytest.mark.parametrize("final", [S.GRADUATED, S.DROPPED])
@pytest.mark.parametrize("to", list(S))
def test_graduated_and_dropped_are_final(final: EnrollmentStatus, to: EnrollmentStatus) -> None:
    """No change leaves a final status (re-admission is a new enrollment)."""
    assert not can_change(final, to)
    assert [p.code for p in transition_problems(final, to, START, START)] == ["final_status"]


def test_a_member_on_hold_cannot_graduate_and_no_change_is_not_a_transition() -> None:
    """Graduating needs an active member; the same status twice is refused as unchanged."""
    assert [p.code for p in transition_problems(S.ON_HOLD_CLINICAL, S.GRADUATED, START, START)] == [
        "not_allowed"
    ]
    assert [p.code for p in transition_problems(S.ACTIVE, S.ACTIVE, START, START)] == ["unchanged"]


def test_a_change_effective_before_the_enrollment_starts_is_refused() -> None:
    """The effective date names its field."""
    problems = transition_problems(S.ACTIVE, S.DROPPED, START - timedelta(days=1), START)
    assert [(p.field, p.code) for p in problems] == [("effectiveOn", "before_start")]
    assert [(p.field, p.code) for p in end_problems(START, START - timedelta(days=1))] == [
        ("endsOn", "before_start")
    ]


def test_only_an_active_member_leaving_frees_a_slot() -> None:
    """Holds keep the place; a member dropped from hold held no active place."""
    assert frees_slot(S.ACTIVE, S.DROPPED) and frees_slot(S.ACTIVE, S.GRADUATED)
    assert not frees_slot(S.ACTIVE, S.ON_HOLD_CLINICAL)
    assert not frees_slot(S.ON_HOLD_ADMINISTRATIVE, S.DROPPED)


def test_open_programs_admit_within_their_dates_and_closed_ones_inside_a_window() -> None:
    """Dates outside the program, or outside every window of a closed group, name startsOn."""
    windows = [Window(date(2026, 9, 1), date(2026, 9, 14))]
    end = date(2026, 12, 31)
    assert admission_problems(ProgramAdmission.OPEN, START, end, [], date(2026, 11, 2)) == []
    assert [p.code for p in admission_problems(ProgramAdmission.OPEN, START, end, [], date(2027, 1, 4))] == [
        "outside_program_dates"
    ]
    assert admission_problems(ProgramAdmission.CLOSED, START, end, windows, date(2026, 9, 14)) == []
    for kind in (ProgramAdmission.CLOSED, ProgramAdmission.SEMI_OPEN):
        problems = admission_problems(kind, START, end, windows, date(2026, 9, 15))
        assert [(p.field, p.code) for p in problems] == [("startsOn", "admission_closed")]


def test_outstanding_offers_reserve_places() -> None:
    """Capacity counts active members plus offers not yet answered."""
    assert has_room(8, 7, 0)
    assert not has_room(8, 7, 1)
    assert not has_room(8, 8, 0)


def marks(*values: Attendance) -> list[Mark]:
    return [Mark(T0 + timedelta(weeks=i), v) for i, v in enumerate(values)]


def test_three_unexcused_absences_flag_a_member() -> None:
    """No-shows and late cancels count; the latest three decide."""
    assert should_flag(marks(A.PRESENT, A.NO_SHOW, A.LATE_CANCEL, A.NO_SHOW), 3, [])
    assert not should_flag(marks(A.NO_SHOW, A.NO_SHOW, A.PRESENT), 3, [])
    assert not should_flag(marks(A.NO_SHOW, A.NO_SHOW), 3, [])


def test_excused_absences_neither_count_nor_break_the_run() -> None:
    """An excused absence is skipped: two no-shows around it are still only two."""
    assert not should_flag(marks(A.NO_SHOW, A.EXCUSED, A.NO_SHOW), 3, [])
    assert should_flag(marks(A.NO_SHOW, A.EXCUSED, A.NO_SHOW, A.NO_SHOW), 3, [])


def test_a_clinical_contact_since_the_first_absence_prevents_the_flag() -> None:
    """Contact after the first absence counts; contact before the run does not."""
    run = marks(A.NO_SHOW, A.NO_SHOW, A.NO_SHOW)
    assert not should_flag(run, 3, [T0 + timedelta(days=2)])
    assert should_flag(run, 3, [T0 - timedelta(days=1)])


def test_the_threshold_is_the_clinics_setting() -> None:
    """A clinic with threshold 2 flags after two absences."""
    assert should_flag(marks(A.PRESENT, A.NO_SHOW, A.NO_SHOW), 2, [])


def test_census_counts_open_enrollments_and_bills_active_members_only() -> None:
    """Graduated and dropped members are not enrolled; holds are enrolled but not billable."""
    result = census(
        [S.ACTIVE, S.ACTIVE, S.ON_HOLD_CLINICAL, S.ON_HOLD_ADMINISTRATIVE, S.DROPPED, S.GRADUATED]
    )
    assert (result.enrolled, result.active, result.on_hold_clinical, result.on_hold_administrative) == (
        4,
        2,
        1,
        1,
    )
    assert result.billable == 2


def test_attendance_must_cover_the_whole_roster_with_members_only() -> None:
    """A stranger names its entry; a missing member makes the record incomplete."""
    a, b, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert attendance_problems({a, b}, [a, b]) == []
    assert [(p.field, p.code) for p in attendance_problems({a, b}, [a, stranger])] == [
        ("entries[1].clientId", "not_on_roster")
    ]
    assert [(p.field, p.code) for p in attendance_problems({a, b}, [a, a])] == [
        ("entries[1].clientId", "duplicate")
    ]
    assert [(p.field, p.code) for p in attendance_problems({a, b}, [a])] == [("entries", "incomplete")]
