"""The built-in note templates: one per program modality, each with the elements auditors expect."""

from __future__ import annotations

import pytest

from backend.documentation.default_templates import DEFAULT_TEMPLATES
from backend.documentation.templates import FieldKind, Scope, template_problems
from backend.programs.models import Modality

DBT = DEFAULT_TEMPLATES["dbt_skills"]


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
