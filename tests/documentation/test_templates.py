"""Note templates: the JSON a tenant's template is stored as, and the checks on an admin's edits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from backend.documentation.default_templates import DEFAULT_TEMPLATES
from backend.documentation.templates import (
    MAX_FIELDS,
    FieldKind,
    NoteTemplate,
    Scope,
    TemplateField,
    TemplateSection,
    template_as_json,
    template_from_json,
    template_problems,
)
from backend.errors import FieldProblem

DBT = DEFAULT_TEMPLATES["dbt_skills"]
SECRET = "Jane Doe disclosed"  # stands for PHI: must never appear in a message


def _codes(problems: Sequence[FieldProblem]) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in problems}


def _with(template: NoteTemplate, scope: Scope, *fields: TemplateField) -> NoteTemplate:
    return dataclasses.replace(
        template, sections=(*template.sections, TemplateSection("extra", "Extra", scope, fields))
    )


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
