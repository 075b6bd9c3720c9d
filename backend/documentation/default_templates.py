"""The built-in note template of each program modality (used until a tenant admin stores their own).

Every template shares the documented elements of a group session record (group note, member section,
absence note); each modality adds its own fields after the common ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from backend.documentation.templates import (
    FieldKind,
    NoteTemplate,
    Scope,
    TemplateField,
    TemplateSection,
)

_F = TemplateField
_TEXT, _LONG, _CHOICE = FieldKind.TEXT, FieldKind.LONG_TEXT, FieldKind.CHOICE
_ACTIVITIES = _F("activities", "Structured activities", _LONG, True)
_INTERVENTIONS = _F("interventions", "Interventions", _LONG, True, "What the facilitators did")
_PROCESS = _F("group_process", "Group process and dynamics", _LONG, True)
_INCIDENTS = _F("critical_incidents", "Critical incidents", _LONG, False, "Leave empty when none")
_PARTICIPATION = _F("participation", "Participation", _LONG, True, "What this member said and did")
_RESPONSE = _F("response_to_interventions", "Response to interventions", _LONG, True)
_GOALS = _F("goal_progress", "Progress toward treatment-plan goals", FieldKind.GOAL_PROGRESS, True)
_RISK = _F("risk", "Risk assessment", FieldKind.RISK, True, "Suicide, self-harm, harm to others")
_PLAN = _F("plan", "Plan", _LONG, True)
_ABSENCE = TemplateSection(
    "absence_note",
    "Absence note",
    Scope.ABSENCE,
    (
        _F("outreach_attempted", "Outreach attempted", FieldKind.BOOLEAN, True),
        _F("note", "Note", _TEXT, False, "Reason given, outreach outcome"),
    ),
)


def _template(
    modality: str,
    name: str,
    theme: TemplateField,
    group: tuple[TemplateField, ...] = (),
    member: tuple[TemplateField, ...] = (),
    homework: str = "Homework or diary card review",
) -> NoteTemplate:
    """The fields every group note has, with the modality's own fields after the common ones."""
    group = (theme, _ACTIVITIES, _INTERVENTIONS, *group, _PROCESS, _INCIDENTS)
    member = (
        _PARTICIPATION,
        _RESPONSE,
        _GOALS,
        _F("homework_review", homework, _LONG),
        *member,
        _RISK,
        _PLAN,
    )
    return NoteTemplate(
        modality,
        name,
        (
            TemplateSection("group_note", "Group note", Scope.GROUP, group),
            TemplateSection("member_note", "Member note", Scope.MEMBER, member),
            _ABSENCE,
        ),
    )


DBT_MODULES = (
    "mindfulness",
    "distress_tolerance",
    "emotion_regulation",
    "interpersonal_effectiveness",
    "walking_the_middle_path",  # adolescent DBT
)

DEFAULT_TEMPLATES: Mapping[str, NoteTemplate] = MappingProxyType(
    {
        "dbt_skills": _template(
            "dbt_skills",
            "DBT skills group",
            _F("theme", "Skills module", _CHOICE, True, choices=DBT_MODULES),
            group=(
                _F("skills_taught", "Skills taught", _LONG, True, "e.g. TIPP, DEAR MAN"),
                _F("skills_practice", "Skills practice", _LONG),
            ),
            member=(
                _F("diary_card_review", "Diary card review", _LONG, True, "Urges, targets, skills used"),
                _F("chain_analysis", "Chain analysis", _LONG, False, "When a target behaviour occurred"),
            ),
            homework="Homework review",
        ),
        "process": _template(
            "process",
            "Process group",
            _F("theme", "Themes", _TEXT, True),
            group=(_F("cohesion", "Cohesion", _CHOICE, choices=("low", "moderate", "high")),),
            member=(_F("interpersonal_patterns", "Interpersonal patterns", _LONG),),
        ),
        "cbt": _template(
            "cbt",
            "CBT group",
            _F("theme", "Cognitive model topic", _TEXT, True),
            group=(
                _F("thought_records", "Thought records", _LONG),
                _F("behavioural_experiments", "Behavioural experiments", _LONG),
                _F("homework_assigned", "Homework assigned", _LONG),
            ),
            homework="Homework review",
        ),
        "psychoeducation": _template(
            "psychoeducation",
            "Psychoeducation group",
            _F("theme", "Topic", _TEXT, True),
            group=(_F("materials", "Materials", _LONG),),
            member=(
                _F(
                    "knowledge_check",
                    "Knowledge check",
                    _CHOICE,
                    True,
                    choices=("demonstrated", "partially_demonstrated", "not_demonstrated"),
                ),
            ),
        ),
        "multi_family": _template(
            "multi_family",
            "Multiple-family group",
            _F("theme", "Psychoeducation topic", _TEXT, True),
            group=(
                # The group note lands on every attendee's record: relationships and counts, never names.
                _F("families_present", "Families present", _TEXT, True, "Count and relationships, no names"),
                _F("family_interactions", "Family interactions", _LONG, True),
            ),
            member=(_F("family_members_present", "Family members present", _TEXT, False, "e.g. mother"),),
        ),
        "other": _template("other", "Group note", _F("theme", "Theme or topic", _TEXT, True)),
    }
)
