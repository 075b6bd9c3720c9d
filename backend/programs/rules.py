"""Validating a program definition (pure)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime

from backend.errors import FieldProblem
from backend.programs.models import ProgramKind
from backend.scheduling.recurrence import validate_rule, zone

GROUP_CPT = ("90853", "90849")  # group psychotherapy; multiple-family group psychotherapy


@dataclass(frozen=True)
class Window:
    opens_on: date
    closes_on: date


@dataclass(frozen=True)
class ProgramDraft:
    name: str
    kind: ProgramKind
    capacity: int
    therapeutic_minimum: int
    default_cpt: str
    session_minutes: int
    timezone: str
    starts_on: date
    ends_on: date | None
    rrule: str
    first_start: datetime
    telehealth: bool
    has_room: bool
    windows: list[Window] = field(default_factory=list)


def validate_program(draft: ProgramDraft) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not draft.name.strip():
        problems.append(FieldProblem("name", "required", "is required"))
    if draft.capacity < 1:
        problems.append(FieldProblem("capacity", "too_small", "must be at least 1"))
    if not 0 <= draft.therapeutic_minimum <= max(draft.capacity, 0):
        problems.append(FieldProblem("therapeuticMinimum", "out_of_range", "must be between 0 and capacity"))
    if draft.default_cpt not in GROUP_CPT:
        problems.append(FieldProblem("defaultCpt", "invalid_cpt", "must be 90853 or 90849"))
    if not 15 <= draft.session_minutes <= 600:
        problems.append(FieldProblem("sessionMinutes", "out_of_range", "must be between 15 and 600"))
    problems += zone(draft.timezone)[1]
    if draft.ends_on is not None and draft.ends_on < draft.starts_on:
        problems.append(FieldProblem("endsOn", "ends_before_start", "must not be before startsOn"))
    problems += validate_rule(draft.rrule)
    if draft.first_start.date() < draft.starts_on or (
        draft.ends_on is not None and draft.first_start.date() > draft.ends_on
    ):
        problems.append(FieldProblem("firstStart", "outside_program", "must fall within the program's dates"))
    if draft.telehealth == draft.has_room:
        problems.append(FieldProblem("roomId", "room_or_telehealth", "give a room or telehealth, not both"))
    problems += validate_windows(draft.kind, draft.windows, draft.starts_on, draft.ends_on)
    return problems


def validate_windows(
    kind: ProgramKind, windows: list[Window], starts_on: date, ends_on: date | None
) -> list[FieldProblem]:
    """Closed and semi-open programs admit only inside windows; open ones have none."""
    if kind is ProgramKind.OPEN:
        if windows:
            return [FieldProblem("admissionWindows", "not_allowed", "open programs admit at any time")]
        return []
    if not windows:
        return [FieldProblem("admissionWindows", "required", "closed and semi-open programs need a window")]
    ordered = sorted(windows, key=lambda w: w.opens_on)
    for window in ordered:
        if window.closes_on < window.opens_on:
            return [FieldProblem("admissionWindows", "ends_before_start", "a window closes before it opens")]
        if ends_on is not None and window.opens_on > ends_on:
            return [
                FieldProblem("admissionWindows", "outside_program", "a window opens after the program ends")
            ]
    for earlier, later in itertools.pairwise(ordered):
        if later.opens_on <= earlier.closes_on:
            return [FieldProblem("admissionWindows", "overlapping", "windows must not overlap")]
    if kind is ProgramKind.CLOSED and ordered[0].opens_on > starts_on:
        return [FieldProblem("admissionWindows", "after_start", "a closed cohort admits before it starts")]
    return []
