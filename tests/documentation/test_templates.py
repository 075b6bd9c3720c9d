"""Note templates: defaults per modality, the admin's checks, drafting and signing checks on content."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from backend.documentation.templates import (
    DEFAULT_TEMPLATES,
    MAX_FIELDS,
    FieldKind,
    GoalProgress,
    NoteTemplate,
    RiskLevel,
    Scope,
    TemplateField,
    TemplateSection,
    content_problems,
    goal_ids,
    missing_required,
    risk_level,
    template_as_json,
    template_from_json,
    template_problems,
)
from backend.errors import FieldProblem
from backend.programs.models import Modality

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


def _with(template: NoteTemplate, scope: Scope, *fields: TemplateField) -> NoteTemplate:
    return dataclasses.replace(
        template, sections=(*template.sections, TemplateSection("extra", "Extra", scope, fields))
    )


# -- defaults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("modality", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_passes_its_own_validation(modality: str) -> None:
    """Each shipped template is one an admin could have saved."""
    assert template_problems(DEFAULT_TEMPLATES[modality]) == []
    assert DEFAULT_TEMPLATES[modality].modality == modality


def test_there_is_a_default_template_for_every_program_modality() -> None:
    """A new program of any modality documents with a template from day one."""
    assert set(DEFAULT_TEMPLATES) == {m.value for m in Modality}


@pytest.mark.parametrize("modality", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_has_the_fields_auditors_expect(modality: str) -> None:
    """Group note, member section and absence note carry the documented clinical elements."""
    t = DEFAULT_TEMPLATES[modality]
    group = {f.key for f in t.fields(Scope.GROUP)}
    member = {f.key: f for f in t.fields(Scope.MEMBER)}
    absence = {f.key: f for f in t.fields(Scope.ABSENCE)}
    assert {"theme", "activities", "interventions", "group_process", "critical_incidents"} <= group
    assert {"participation", "response_to_interventions", "homework_review", "plan"} <= set(member)
    assert (member["goal_progress"].kind, member["goal_progress"].required) == (FieldKind.GOAL_PROGRESS, True)
    assert (member["risk"].kind, member["risk"].required) == (FieldKind.RISK, True)
    assert (absence["outreach_attempted"].kind, absence["outreach_attempted"].required) == (
        FieldKind.BOOLEAN,
        True,
    )
    assert absence["note"].kind == FieldKind.TEXT


def test_modality_specific_fields_are_in_their_templates() -> None:
    """DBT documents skills and diary cards; multi-family documents the families; CBT thought records."""
    assert {"skills_taught", "skills_practice"} <= {f.key for f in DBT.fields(Scope.GROUP)}
    assert {"diary_card_review", "chain_analysis"} <= {f.key for f in DBT.fields(Scope.MEMBER)}
    assert "families_present" in {f.key for f in DEFAULT_TEMPLATES["multi_family"].fields(Scope.GROUP)}
    assert "thought_records" in {f.key for f in DEFAULT_TEMPLATES["cbt"].fields(Scope.GROUP)}
    assert "knowledge_check" in {f.key for f in DEFAULT_TEMPLATES["psychoeducation"].fields(Scope.MEMBER)}


# -- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("modality", sorted(DEFAULT_TEMPLATES))
def test_template_json_round_trip(modality: str) -> None:
    """A template stored as JSON (in the tenant's settings) reads back identical."""
    t = DEFAULT_TEMPLATES[modality]
    assert template_from_json(json.loads(json.dumps(template_as_json(t)))) == t


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: SECRET,
        lambda d: {**d, "notes": SECRET},
        lambda d: {**d, "sections": SECRET},
        lambda d: {k: v for k, v in d.items() if k != "name"},
        lambda d: {**d, "sections": [{**d["sections"][0], "scope": SECRET}]},
        lambda d: {
            **d,
            "sections": [{**d["sections"][0], "fields": [{"key": "x", "label": "X", "kind": SECRET}]}],
        },
        lambda d: {
            **d,
            "sections": [
                {**d["sections"][0], "fields": [{"key": "x", "label": "X", "kind": "text", "requried": 1}]}
            ],
        },
        lambda d: {
            **d,
            "sections": [
                {
                    **d["sections"][0],
                    "fields": [{"key": "x", "label": "X", "kind": "text", "required": SECRET}],
                }
            ],
        },
    ],
)
def test_template_from_json_refuses_a_bad_shape_without_repeating_its_values(
    mutate: Callable[[dict[str, Any]], object],
) -> None:
    """A malformed template raises ValueError naming the place, never the stored text."""
    with pytest.raises(ValueError) as raised:
        template_from_json(mutate(template_as_json(DBT)))
    assert SECRET not in str(raised.value)
    assert "template" in str(raised.value)


# -- the admin's configuration -------------------------------------------------------------------


def test_a_field_key_used_twice_in_one_scope_is_named() -> None:
    """Two member fields both called "plan" would overwrite each other in the stored content."""
    t = _with(DBT, Scope.MEMBER, TemplateField("plan", "Plan again", FieldKind.TEXT))
    assert _codes(template_problems(t)) == {("template.sections[3].fields[0].key", "duplicate")}


def test_the_same_key_in_two_scopes_is_allowed() -> None:
    """Group and member content are stored apart, so a "plan" in each does not collide."""
    t = _with(DBT, Scope.GROUP, TemplateField("plan", "Group plan", FieldKind.TEXT))
    assert template_problems(t) == []


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            TemplateField("mood", "Mood", FieldKind.TEXT, choices=("ok",)),
            ("fields[0].choices", "not_allowed"),
        ),
        (TemplateField("mood", "Mood", FieldKind.CHOICE), ("fields[0].choices", "required")),
        (
            TemplateField("mood", "Mood", FieldKind.CHOICE, choices=("a", "a")),
            ("fields[0].choices", "invalid"),
        ),
        (TemplateField("Mood Rating", "Mood", FieldKind.TEXT), ("fields[0].key", "invalid_key")),
        (TemplateField("mood", "  ", FieldKind.TEXT), ("fields[0].label", "required")),
    ],
)
def test_an_admin_field_mistake_is_named(field: TemplateField, expected: tuple[str, str]) -> None:
    """Choices belong to choice fields only, keys are snake_case identifiers, labels are not blank."""
    problems = template_problems(_with(DBT, Scope.GROUP, field))
    assert _codes(problems) == {(f"template.sections[3].{expected[0]}", expected[1])}


def test_a_template_without_absence_fields_is_refused() -> None:
    """Every no-show needs an absence note, so the absence scope cannot be removed."""
    t = dataclasses.replace(DBT, sections=DBT.sections[:2])
    assert _codes(template_problems(t)) == {("template.sections", "missing_scope")}


def test_an_empty_section_is_refused() -> None:
    """A section with no fields shows an empty heading on every note."""
    t = _with(DBT, Scope.GROUP)
    assert _codes(template_problems(t)) == {("template.sections[3].fields", "required")}


def test_more_than_sixty_fields_is_refused() -> None:
    """A note form past 60 fields is a configuration mistake (and a slow form)."""
    extra = tuple(TemplateField(f"extra_{i}", f"Extra {i}", FieldKind.TEXT) for i in range(MAX_FIELDS))
    assert ("template.sections", "too_many_fields") in _codes(
        template_problems(_with(DBT, Scope.GROUP, *extra))
    )


def test_member_notes_keep_a_required_risk_assessment_and_goal_progress() -> None:
    """An admin cannot configure away the per-member risk assessment or the goal progress."""
    member = DBT.sections[1]
    optional = tuple(dataclasses.replace(f, required=False) for f in member.fields)
    t = dataclasses.replace(
        DBT, sections=(DBT.sections[0], dataclasses.replace(member, fields=optional), DBT.sections[2])
    )
    assert _codes(template_problems(t)) == {
        ("template.sections", "risk_required"),
        ("template.sections", "goal_progress_required"),
    }


# -- content: drafting and signing ---------------------------------------------------------------


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
