"""Treatment plans (pure): what a plan and its goals must say, how their status changes, who supervises.

A plan names the group modality it prescribes and lists goals, each with a measurable target (what is
counted and the level that means "met"), because member sections rate progress toward those goals and a
payer's reviewer looks for that link. Checks return `FieldProblem`s named after the GraphQL input
(`goals[2].target`), never raising for user input.

Status changes:

| Thing | From                 | To                      | Why                                              |
|-------|----------------------|-------------------------|--------------------------------------------------|
| plan  | active               | closed                  | reviewed and replaced, or treatment ended        |
| goal  | active               | met, discontinued       | the target was reached, or the goal was dropped  |
| goal  | met, discontinued    | active                  | the member regressed, or the goal was resumed    |

A closed plan is a record: neither it nor its goals change again (a new plan is created instead).
Setting a status to the one it has is accepted and changes nothing, so a retried request is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from backend.errors import FieldProblem
from backend.programs.models import Modality
from backend.treatment.models import GoalStatus, PlanStatus

MAX_GOALS = 20
MAX_DESCRIPTION = 500
MAX_TARGET = 300

GOAL_CHANGES: Mapping[GoalStatus, frozenset[GoalStatus]] = {
    GoalStatus.ACTIVE: frozenset({GoalStatus.MET, GoalStatus.DISCONTINUED}),
    GoalStatus.MET: frozenset({GoalStatus.ACTIVE}),
    GoalStatus.DISCONTINUED: frozenset({GoalStatus.ACTIVE}),
}


@dataclass(frozen=True)
class GoalDraft:
    description: str
    target: str
    target_date: date | None = None


@dataclass(frozen=True)
class PlanDraft:
    modality: str
    starts_on: date
    review_on: date | None
    goals: tuple[GoalDraft, ...]


def normalized_goal(goal: GoalDraft) -> GoalDraft:
    """Surrounding blanks trimmed (what is stored)."""
    return GoalDraft(goal.description.strip(), goal.target.strip(), goal.target_date)


def goal_problems(goal: GoalDraft, starts_on: date, prefix: str) -> list[FieldProblem]:
    """A goal needs a description and a measurable target, and cannot be due before the plan starts."""
    problems = _text_problems(goal.description, MAX_DESCRIPTION, f"{prefix}.description")
    # Without a target, "progress toward the goal" cannot be rated: the target is what makes it measurable.
    problems += _text_problems(goal.target, MAX_TARGET, f"{prefix}.target")
    if goal.target_date is not None and goal.target_date < starts_on:
        problems.append(
            FieldProblem(f"{prefix}.targetDate", "before_start", "must not be before the plan starts")
        )
    return problems


def plan_problems(plan: PlanDraft, program_modality: str | None = None) -> list[FieldProblem]:
    """Problems with a new plan; `program_modality` is the modality of the program it names, if any."""
    problems: list[FieldProblem] = []
    if plan.modality not in {m.value for m in Modality}:
        problems.append(FieldProblem("modality", "unknown_modality", "is not a group modality"))
    elif program_modality is not None and program_modality != plan.modality:
        problems.append(FieldProblem("programId", "modality_mismatch", "the program is of another modality"))
    if plan.review_on is not None and plan.review_on < plan.starts_on:
        problems.append(FieldProblem("reviewOn", "before_start", "must not be before the plan starts"))
    if not plan.goals:
        problems.append(FieldProblem("goals", "required", "a plan needs at least one goal"))
    problems += goal_count_problems(0, len(plan.goals), "goals")
    for i, goal in enumerate(plan.goals):
        problems += goal_problems(goal, plan.starts_on, f"goals[{i}]")
    return problems


def goal_count_problems(existing: int, added: int, field: str) -> list[FieldProblem]:
    if existing + added > MAX_GOALS:
        return [FieldProblem(field, "too_many_goals", f"a plan has at most {MAX_GOALS} goals")]
    return []


def plan_change_problems(status: PlanStatus, field: str) -> list[FieldProblem]:
    """A closed plan (and every goal of it) is no longer changed."""
    if status == PlanStatus.CLOSED:
        return [FieldProblem(field, "plan_closed", "the treatment plan is closed")]
    return []


def goal_status_problems(
    plan: PlanStatus, current: GoalStatus, new: GoalStatus, field: str
) -> list[FieldProblem]:
    if problems := plan_change_problems(plan, field):
        return problems
    if new != current and new not in GOAL_CHANGES[current]:
        return [FieldProblem("status", "invalid_change", f"a {current} goal cannot become {new}")]
    return []


def supervisor_problems(
    staff_id: uuid.UUID, supervisor_id: uuid.UUID, supervisors: Mapping[uuid.UUID, uuid.UUID | None]
) -> list[FieldProblem]:
    """A staff member cannot supervise themselves, directly or through a chain of supervisors.

    `supervisors` maps staff ids to their current supervisor. A loop would let two trainees co-sign
    each other's notes, which is the review the supervisor exists to give.
    """
    if supervisor_id == staff_id:
        return [FieldProblem("supervisorId", "self_supervision", "cannot supervise themselves")]
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = supervisor_id
    while current is not None and current not in seen:
        if current == staff_id:
            return [FieldProblem("supervisorId", "supervision_loop", "is supervised by this staff member")]
        seen.add(current)
        current = supervisors.get(current)
    return []


def _text_problems(value: str, limit: int, field: str) -> list[FieldProblem]:
    if not value.strip():
        return [FieldProblem(field, "required", "must not be blank")]
    if len(value.strip()) > limit:
        return [FieldProblem(field, "too_long", f"must be at most {limit} characters")]
    return []
