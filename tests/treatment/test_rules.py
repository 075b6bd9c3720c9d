"""Treatment plan rules: measurable goals, dates, goal status changes and supervision loops."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import pytest

from backend.errors import FieldProblem
from backend.treatment.models import GoalStatus, PlanStatus
from backend.treatment.rules import (
    MAX_GOALS,
    GoalDraft,
    PlanDraft,
    goal_status_problems,
    normalized_goal,
    plan_problems,
    supervisor_problems,
)

START = date(2026, 3, 2)
GOAL = GoalDraft("Reduce self-harm", "DBT diary: 0 self-harm acts for 4 consecutive weeks", date(2026, 6, 1))


def _plan(*goals: GoalDraft, modality: str = "dbt_skills", review_on: date | None = None) -> PlanDraft:
    return PlanDraft(modality, START, review_on, goals)


def _codes(problems: Sequence[FieldProblem]) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in problems}


def test_a_plan_with_measurable_goals_is_accepted() -> None:
    """A DBT plan with a described goal and a counted target has no problems."""
    assert plan_problems(_plan(GOAL), program_modality="dbt_skills") == []


@pytest.mark.parametrize("target", ["", "   "])
def test_a_goal_without_a_target_is_refused(target: str) -> None:
    """Progress cannot be rated against a goal with no measurable target."""
    problems = plan_problems(_plan(GOAL, GoalDraft("Attend group", target)))
    assert _codes(problems) == {("goals[1].target", "required")}


def test_descriptions_and_targets_have_length_limits() -> None:
    """500 characters of description and 300 of target fit; one more is refused."""
    assert plan_problems(_plan(GoalDraft("d" * 500, "t" * 300))) == []
    assert _codes(plan_problems(_plan(GoalDraft("d" * 501, "t" * 301)))) == {
        ("goals[0].description", "too_long"),
        ("goals[0].target", "too_long"),
    }


def test_a_plan_needs_between_one_and_twenty_goals() -> None:
    """No goals leaves member sections nothing to rate; more than 20 is refused."""
    assert _codes(plan_problems(_plan())) == {("goals", "required")}
    assert plan_problems(_plan(*[GOAL] * MAX_GOALS)) == []
    assert _codes(plan_problems(_plan(*[GOAL] * (MAX_GOALS + 1)))) == {("goals", "too_many_goals")}


def test_review_and_target_dates_cannot_precede_the_start() -> None:
    """A review due before the plan starts, or a goal due before it, is a typing mistake."""
    early = GoalDraft("Reduce self-harm", "0 acts", date(2026, 3, 1))
    assert _codes(plan_problems(_plan(early, review_on=date(2026, 3, 1)))) == {
        ("reviewOn", "before_start"),
        ("goals[0].targetDate", "before_start"),
    }
    assert plan_problems(_plan(GOAL, review_on=START)) == []


def test_the_modality_must_be_a_group_modality_and_match_the_program() -> None:
    """A plan names a known modality; a named program must be of that modality."""
    assert _codes(plan_problems(_plan(GOAL, modality="art"))) == {("modality", "unknown_modality")}
    assert _codes(plan_problems(_plan(GOAL), program_modality="cbt")) == {("programId", "modality_mismatch")}


def test_goal_text_is_stored_trimmed() -> None:
    """Blanks around a goal's text are not kept."""
    assert normalized_goal(GoalDraft("  Attend ", " 10 of 12 sessions\n")) == GoalDraft(
        "Attend", "10 of 12 sessions"
    )


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (GoalStatus.ACTIVE, GoalStatus.MET, True),
        (GoalStatus.ACTIVE, GoalStatus.DISCONTINUED, True),
        (GoalStatus.MET, GoalStatus.ACTIVE, True),
        (GoalStatus.DISCONTINUED, GoalStatus.ACTIVE, True),
        (GoalStatus.MET, GoalStatus.MET, True),
        (GoalStatus.MET, GoalStatus.DISCONTINUED, False),
        (GoalStatus.DISCONTINUED, GoalStatus.MET, False),
    ],
)
def test_goal_status_changes_follow_the_table(current: GoalStatus, new: GoalStatus, allowed: bool) -> None:
    """A met goal is resumed before it is discontinued; repeating a status is harmless."""
    problems = goal_status_problems(PlanStatus.ACTIVE, current, new, "goalId")
    assert (problems == []) is allowed
    if not allowed:
        assert _codes(problems) == {("status", "invalid_change")}


def test_goals_of_a_closed_plan_do_not_change() -> None:
    """A closed plan is a record; a new plan is written instead."""
    problems = goal_status_problems(PlanStatus.CLOSED, GoalStatus.ACTIVE, GoalStatus.MET, "goalId")
    assert _codes(problems) == {("goalId", "plan_closed")}


def test_nobody_supervises_themselves_directly_or_through_a_chain() -> None:
    """Self-supervision and loops are refused: a trainee's co-signer must be outside their chain."""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert _codes(supervisor_problems(a, a, {})) == {("supervisorId", "self_supervision")}
    # b is supervised by c, c by a: a cannot now be supervised by b.
    chain = {a: None, b: c, c: a}
    assert _codes(supervisor_problems(a, b, chain)) == {("supervisorId", "supervision_loop")}
    assert supervisor_problems(c, b, {a: None, b: None, c: None}) == []
