"""Enrollment rules (pure): the status state machine, admission, the absence rule and the census.

Member states follow common group-practice conventions: active members are billable and hold a
place; a clinical hold (hospitalization, acute decompensation) or an administrative hold
(authorization lapsed, payment issue) keeps the member on the roster without billing; graduated
and dropped are final and free the place.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from backend.errors import FieldProblem


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"  # billable, counts toward capacity
    ON_HOLD_CLINICAL = "on_hold_clinical"  # slot kept, not billed (hospitalization...)
    ON_HOLD_ADMINISTRATIVE = "on_hold_administrative"  # authorization lapsed, payment issue...
    GRADUATED = "graduated"  # completed; frees the slot
    DROPPED = "dropped"  # frees the slot


class Attendance(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    LEFT_EARLY = "left_early"
    NO_SHOW = "no_show"
    LATE_CANCEL = "late_cancel"
    EXCUSED = "excused"


class ProgramAdmission(enum.StrEnum):
    """How a program admits (mirrors backend.programs.models.ProgramKind)."""

    OPEN = "open"
    CLOSED = "closed"
    SEMI_OPEN = "semi_open"


OPEN_STATUSES = frozenset(
    {EnrollmentStatus.ACTIVE, EnrollmentStatus.ON_HOLD_CLINICAL, EnrollmentStatus.ON_HOLD_ADMINISTRATIVE}
)
FINAL_STATUSES = frozenset({EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED})
HOLDS = frozenset({EnrollmentStatus.ON_HOLD_CLINICAL, EnrollmentStatus.ON_HOLD_ADMINISTRATIVE})

# Graduation means completing the program, so only an active member graduates; a member on hold
# returns to active first, or is dropped.
TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    EnrollmentStatus.ACTIVE: frozenset(HOLDS | FINAL_STATUSES),
    EnrollmentStatus.ON_HOLD_CLINICAL: frozenset(
        {EnrollmentStatus.ACTIVE, EnrollmentStatus.ON_HOLD_ADMINISTRATIVE, EnrollmentStatus.DROPPED}
    ),
    EnrollmentStatus.ON_HOLD_ADMINISTRATIVE: frozenset(
        {EnrollmentStatus.ACTIVE, EnrollmentStatus.ON_HOLD_CLINICAL, EnrollmentStatus.DROPPED}
    ),
    EnrollmentStatus.GRADUATED: frozenset(),
    EnrollmentStatus.DROPPED: frozenset(),
}

ABSENCES = frozenset({Attendance.NO_SHOW, Attendance.LATE_CANCEL})
ATTENDED = frozenset({Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY})
AUTO_DROP_REASON = "3 consecutive absences without clinical contact"


@dataclass(frozen=True)
class Enrolled:
    enrollment_id: uuid.UUID


@dataclass(frozen=True)
class Waitlisted:
    entry_id: uuid.UUID


def can_change(current: EnrollmentStatus, to: EnrollmentStatus) -> bool:
    return to in TRANSITIONS[current]


def transition_problems(
    current: EnrollmentStatus, to: EnrollmentStatus, effective_on: date, starts_on: date
) -> list[FieldProblem]:
    """Why `current -> to` on `effective_on` is refused (empty when allowed)."""
    problems: list[FieldProblem] = []
    if current in FINAL_STATUSES:
        problems.append(FieldProblem("to", "final_status", f"the enrollment is already {current.value}"))
    elif current == to:
        problems.append(FieldProblem("to", "unchanged", f"the enrollment is already {to.value}"))
    elif not can_change(current, to):
        problems.append(
            FieldProblem("to", "not_allowed", f"cannot change from {current.value} to {to.value}")
        )
    if effective_on < starts_on:
        problems.append(
            FieldProblem("effectiveOn", "before_start", "must not be before the enrollment starts")
        )
    return problems


def frees_slot(current: EnrollmentStatus, to: EnrollmentStatus) -> bool:
    """An active member leaving for good frees a place for the waitlist."""
    return current == EnrollmentStatus.ACTIVE and to in FINAL_STATUSES


@dataclass(frozen=True)
class Window:
    opens_on: date
    closes_on: date


def admission_problems(
    kind: ProgramAdmission,
    program_starts_on: date,
    program_ends_on: date | None,
    windows: Iterable[Window],
    starts_on: date,
) -> list[FieldProblem]:
    """Open programs admit any day within their dates; closed and semi-open ones only inside a window."""
    if starts_on < program_starts_on or (program_ends_on is not None and starts_on > program_ends_on):
        return [FieldProblem("startsOn", "outside_program_dates", "is outside the program's dates")]
    if kind != ProgramAdmission.OPEN and not any(w.opens_on <= starts_on <= w.closes_on for w in windows):
        return [FieldProblem("startsOn", "admission_closed", "is outside every admission window")]
    return []


def end_problems(starts_on: date, ends_on: date) -> list[FieldProblem]:
    if ends_on < starts_on:
        return [FieldProblem("endsOn", "before_start", "must not be before the enrollment starts")]
    return []


def has_room(capacity: int, active: int, reserved_offers: int) -> bool:
    """Active members and outstanding offers (each reserves a place) count toward capacity."""
    return active + reserved_offers < capacity


# -- the absence rule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One recorded attendance of a member at a past session of the program."""

    session_starts_at: datetime
    attendance: Attendance


def absence_run(marks: Sequence[Mark], threshold: int) -> list[Mark]:
    """The member's latest `threshold` counted marks when every one is an unexcused absence, else [].

    Excused absences (cancelled with notice, agreed leave) neither count toward the run nor break
    it: they are skipped. A no-show or a late cancel (under 24 hours) counts; any attendance
    (present, late, left early) breaks the run.
    """
    counted = sorted(
        (m for m in marks if m.attendance != Attendance.EXCUSED), key=lambda m: m.session_starts_at
    )
    latest = counted[-threshold:]
    if len(latest) < threshold or any(m.attendance not in ABSENCES for m in latest):
        return []
    return latest


def should_flag(marks: Sequence[Mark], threshold: int, contacts: Iterable[datetime]) -> bool:
    """`threshold` consecutive unexcused absences with no clinical contact since the first of them.

    The clinical contact (a call, an individual session, outreach that reached the member) shows
    the member is still engaged in treatment, so a group absence streak alone does not drop them.
    """
    run = absence_run(marks, threshold)
    if not run:
        return False
    first = run[0].session_starts_at
    return not any(contact >= first for contact in contacts)


# -- census --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Census:
    enrolled: int  # open enrollments: active or on hold
    active: int
    on_hold_clinical: int
    on_hold_administrative: int
    billable: int  # only active members are billed (holds keep the place without billing)


def census(statuses: Iterable[EnrollmentStatus]) -> Census:
    counts = {s: 0 for s in EnrollmentStatus}
    for status in statuses:
        counts[status] += 1
    active = counts[EnrollmentStatus.ACTIVE]
    clinical = counts[EnrollmentStatus.ON_HOLD_CLINICAL]
    administrative = counts[EnrollmentStatus.ON_HOLD_ADMINISTRATIVE]
    return Census(active + clinical + administrative, active, clinical, administrative, active)


# -- attendance ---------------------------------------------------------------------------------


def attendance_problems(roster: set[uuid.UUID], entries: Sequence[uuid.UUID]) -> list[FieldProblem]:
    """A whole-roster record: every entry names a roster member, once, and every member is marked."""
    problems: list[FieldProblem] = []
    seen: set[uuid.UUID] = set()
    for i, client_id in enumerate(entries):
        if client_id not in roster:
            problems.append(
                FieldProblem(f"entries[{i}].clientId", "not_on_roster", "is not on this session's roster")
            )
        elif client_id in seen:
            problems.append(FieldProblem(f"entries[{i}].clientId", "duplicate", "is marked twice"))
        seen.add(client_id)
    if not problems and seen != roster:
        problems.append(FieldProblem("entries", "incomplete", f"must mark all {len(roster)} roster members"))
    return problems


class ContactKind(enum.StrEnum):
    PHONE_CALL = "phone_call"
    INDIVIDUAL_SESSION = "individual_session"
    OUTREACH_REACHED = "outreach_reached"
    CRISIS_CONTACT = "crisis_contact"
    CARE_COORDINATION = "care_coordination"
