"""Note content: drafting checks (shape only) and signing checks (required fields, ratings, risk)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from backend.documentation.default_templates import DEFAULT_TEMPLATES
from backend.documentation.note_content import content_problems, goal_ids, missing_required, risk_level
from backend.documentation.templates import GoalProgress, RiskLevel, Scope
from backend.errors import FieldProblem

DBT = DEFAULT_TEMPLATES["dbt_skills"]
SECRET = "Jane Doe disclosed"  # stands for PHI: must never appear in a message


def _codes(problems: Sequence[FieldProblem]) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in problems}


def _signable_member() -> dict[str, object]:
    return {
        "participation": "Shared a recent conflict at work and practised DEAR MAN in a role play.",
        "response_to_interventions": "Used the script with prompting.",
        "goal_progress": [{"goalId": "g1", "progress": "improved", "note": "fewer outbursts"}],
        "homework_review": "Completed",
        "diary_card_review": "Urges 2/5 on two days; skills used daily",
        "risk": {"level": "low", "note": "denies intent"},
        "plan": "Continue module; review chain next week",
    }


def test_required_fields_are_enforced_at_signing_not_at_drafting() -> None:
    """A half-written member note saves as a draft but cannot be signed."""
    draft = {"participation": "Quiet today", "risk": {"level": None, "note": ""}, "plan": "  "}
    assert content_problems(DBT, Scope.MEMBER, draft, "sections[c1]") == []
    assert _codes(missing_required(DBT, Scope.MEMBER, draft, "sections[c1]")) == {
        ("sections[c1].response_to_interventions", "required"),
        ("sections[c1].goal_progress", "required"),
        ("sections[c1].diary_card_review", "required"),
        ("sections[c1].risk", "required"),
        ("sections[c1].plan", "required"),
    }


def test_a_complete_member_note_can_be_signed() -> None:
    """Every required field filled: no drafting and no signing problems."""
    content = _signable_member()
    assert content_problems(DBT, Scope.MEMBER, content, "m") == []
    assert missing_required(DBT, Scope.MEMBER, content, "m") == []


def test_no_outreach_is_an_answer_not_a_blank() -> None:
    """Outreach attempted = false satisfies the required field (the absence note records it)."""
    assert missing_required(DBT, Scope.ABSENCE, {"outreach_attempted": False}, "absence") == []
    assert _codes(missing_required(DBT, Scope.ABSENCE, {"note": "called"}, "absence")) == {
        ("absence.outreach_attempted", "required")
    }


def test_an_unknown_key_is_refused_naming_it() -> None:
    """Content for a field the template does not have is not silently stored."""
    problems = content_problems(DBT, Scope.GROUP, {"theme": "mindfulness", "mood": "x"}, "groupNote")
    assert _codes(problems) == {("groupNote.mood", "unknown_field")}


@pytest.mark.parametrize(
    ("key", "value", "field", "code"),
    [
        ("participation", 3, "m.participation", "wrong_type"),
        ("chain_analysis", ["a"], "m.chain_analysis", "wrong_type"),
        ("goal_progress", {"goalId": "g1"}, "m.goal_progress", "wrong_type"),
        ("goal_progress", ["g1"], "m.goal_progress[0]", "wrong_type"),
        (
            "goal_progress",
            [{"goalId": "g1", "progress": "better"}],
            "m.goal_progress[0].progress",
            "not_a_choice",
        ),
        ("goal_progress", [{"progress": "met"}], "m.goal_progress[0].goalId", "required"),
        ("goal_progress", [{"goalId": "g1", "rating": 3}], "m.goal_progress[0].rating", "unknown_field"),
        ("risk", "low", "m.risk", "wrong_type"),
        ("risk", {"level": "severe"}, "m.risk.level", "not_a_choice"),
        ("risk", {"level": "low", "note": 5}, "m.risk.note", "wrong_type"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_naming_the_field(
    key: str, value: object, field: str, code: str
) -> None:
    """Each field kind accepts only its own JSON shape."""
    assert _codes(content_problems(DBT, Scope.MEMBER, {key: value}, "m")) == {(field, code)}


def test_a_boolean_field_takes_only_true_or_false() -> None:
    """Outreach "yes" as text is refused; the absence note stores a real boolean."""
    problems = content_problems(DBT, Scope.ABSENCE, {"outreach_attempted": "yes"}, "a")
    assert _codes(problems) == {("a.outreach_attempted", "wrong_type")}


def test_a_choice_outside_the_template_choices_is_refused() -> None:
    """A DBT note names one of the DBT modules."""
    assert _codes(content_problems(DBT, Scope.GROUP, {"theme": "anger management"}, "g")) == {
        ("g.theme", "not_a_choice")
    }
    assert content_problems(DBT, Scope.GROUP, {"theme": "emotion_regulation"}, "g") == []


def test_text_longer_than_twenty_thousand_characters_is_refused() -> None:
    """20,000 characters fit; one more is refused."""
    assert content_problems(DBT, Scope.GROUP, {"activities": "x" * 20_000}, "g") == []
    assert _codes(content_problems(DBT, Scope.GROUP, {"activities": "x" * 20_001}, "g")) == {
        ("g.activities", "too_long")
    }


def test_the_same_goal_rated_twice_is_refused() -> None:
    """One rating per treatment-plan goal per session."""
    goals = [{"goalId": "g1", "progress": "met"}, {"goalId": "g1", "progress": "improved"}]
    assert _codes(content_problems(DBT, Scope.MEMBER, {"goal_progress": goals}, "m")) == {
        ("m.goal_progress[1].goalId", "duplicate")
    }


def test_an_unrated_goal_blocks_signing() -> None:
    """A goal listed without its progress is an unfinished note."""
    content = {**_signable_member(), "goal_progress": [{"goalId": "g1", "progress": "met"}, {"goalId": "g2"}]}
    assert _codes(missing_required(DBT, Scope.MEMBER, content, "m")) == {
        ("m.goal_progress[1].progress", "required")
    }


def test_a_risk_assessment_without_a_level_blocks_signing() -> None:
    """A risk note must say what the risk level is."""
    content = {**_signable_member(), "risk": {"note": "discussed"}}
    assert _codes(missing_required(DBT, Scope.MEMBER, content, "m")) == {("m.risk.level", "required")}


@pytest.mark.parametrize("level", [RiskLevel.HIGH, RiskLevel.IMMINENT])
def test_a_high_risk_needs_a_note_before_signing(level: RiskLevel) -> None:
    """High or imminent risk is signed only with what was done about it."""
    content = {**_signable_member(), "risk": {"level": level.value, "note": ""}}
    assert _codes(missing_required(DBT, Scope.MEMBER, content, "m")) == {("m.risk.note", "required")}


def test_problem_messages_never_contain_note_text() -> None:
    """Messages travel to logs and error reports: they never repeat what the clinician typed."""
    content = {
        "participation": SECRET * 2_000,
        "risk": {"level": SECRET},
        "goal_progress": [{"goalId": SECRET}] * 2,
    }
    problems = content_problems(DBT, Scope.MEMBER, content, "m") + missing_required(
        DBT, Scope.MEMBER, content, "m"
    )
    assert problems
    assert all(SECRET not in p.message for p in problems)


def test_risk_level_is_the_highest_recorded() -> None:
    """Two risk fields, low and high: the member is flagged high."""
    content = {"risk": {"level": "low"}, "risk_others": {"level": "high"}, "plan": "x"}
    assert risk_level(content) == RiskLevel.HIGH
    assert risk_level({"risk": {"level": None}, "plan": "x"}) is None
    assert risk_level({"risk": {"level": "unknown"}}) is None


def test_goal_ids_lists_every_rated_goal() -> None:
    """The caller checks these ids belong to the member's treatment plan."""
    content = {
        "goal_progress": [
            {"goalId": "g1", "progress": GoalProgress.MET.value},
            {"goalId": "g2"},
            {"goalId": ""},
            "junk",
        ],
        "plan": "x",
    }
    assert goal_ids(content) == {"g1", "g2"}
