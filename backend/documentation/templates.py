"""Note templates per modality: which fields a group note, a member's section and an absence note have.

A template has sections; each section belongs to one scope and lists its fields:

| Scope   | What it documents                                              | Lands on                 |
|---------|----------------------------------------------------------------|--------------------------|
| group   | theme or module, activities, interventions, group process,     | every attendee's record  |
|         | critical incidents                                             |                          |
| member  | participation, response to interventions, goal progress,       | that member's record     |
|         | homework or diary card review, risk assessment, plan           |                          |
| absence | outreach attempted, a brief note                               | the absent member's      |

Content is JSON, one object per scope instance: {"<fieldKey>": value}. Two checks, at two moments:
`content_problems` while drafting (shape only: unknown keys, wrong types, choices, length; empty is fine,
a clinician saves half-written notes) and `missing_required` at signing (required fields filled, each goal
entry rated, each risk assessment given a level). A tenant admin may edit templates; `template_problems`
checks an edited template, and keeps a clinical floor: every member section keeps a required goal-progress
and a required risk field (both are expected in every member's note by auditors and payers).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from backend.errors import FieldProblem

MAX_TEXT = 20_000
MAX_FIELDS = 60
_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")  # snake_case identifiers: stable JSON keys across versions
_E = TypeVar("_E", bound=enum.StrEnum)


class Scope(enum.StrEnum):
    GROUP = "group"
    MEMBER = "member"
    ABSENCE = "absence"


class FieldKind(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    GOAL_PROGRESS = "goal_progress"  # [{"goalId": str, "progress": GoalProgress, "note": str}]
    RISK = "risk"  # {"level": RiskLevel, "note": str}


class RiskLevel(enum.StrEnum):
    """Declared in ascending severity: `risk_level` returns the highest recorded."""

    NONE = "none"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"


class GoalProgress(enum.StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    REGRESSED = "regressed"
    MET = "met"


RISK_ORDER: tuple[RiskLevel, ...] = tuple(RiskLevel)
# A high or imminent risk is signed only with a note of what was done (safety plan, referral, call).
RISK_NEEDS_NOTE = frozenset({RiskLevel.HIGH, RiskLevel.IMMINENT})


@dataclass(frozen=True)
class TemplateField:
    key: str
    label: str
    kind: FieldKind
    required: bool = False
    prompt: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateSection:
    key: str
    label: str
    scope: Scope
    fields: tuple[TemplateField, ...]


@dataclass(frozen=True)
class NoteTemplate:
    modality: str
    name: str
    sections: tuple[TemplateSection, ...]

    def fields(self, scope: Scope) -> tuple[TemplateField, ...]:
        """The fields of every section of `scope`, in template order (one content object per scope)."""
        return tuple(f for s in self.sections if s.scope == scope for f in s.fields)


# -- JSON -----------------------------------------------------------------------------------------


def template_as_json(t: NoteTemplate) -> dict[str, object]:
    return {
        "modality": t.modality,
        "name": t.name,
        "sections": [
            {
                "key": s.key,
                "label": s.label,
                "scope": s.scope.value,
                "fields": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "kind": f.kind.value,
                        "required": f.required,
                        "prompt": f.prompt,
                        "choices": list(f.choices),
                    }
                    for f in s.fields
                ],
            }
            for s in t.sections
        ],
    }


def template_from_json(data: object) -> NoteTemplate:
    """Parse `template_as_json` output; a bad shape raises ValueError naming the path, never a value.

    Unknown keys are refused: a misspelt "required" silently dropped would unprotect a field.
    """
    d = _object(data, "template", {"modality", "name", "sections"}, set())
    sections = []
    for i, raw in enumerate(_list(d, "sections", "template")):
        where = f"template.sections[{i}]"
        s = _object(raw, where, {"key", "label", "scope", "fields"}, set())
        fields = []
        for j, raw_field in enumerate(_list(s, "fields", where)):
            fw = f"{where}.fields[{j}]"
            f = _object(raw_field, fw, {"key", "label", "kind"}, {"required", "prompt", "choices"})
            prompt = f.get("prompt")
            choices = f.get("choices", [])
            required = f.get("required", False)
            if prompt is not None and not isinstance(prompt, str):
                raise ValueError(f"{fw}.prompt: must be a string or null")
            if not isinstance(required, bool):
                raise ValueError(f"{fw}.required: must be a boolean")
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise ValueError(f"{fw}.choices: must be a list of strings")
            kind = _enum(FieldKind, _str(f, "kind", fw), f"{fw}.kind")
            fields.append(
                TemplateField(
                    _str(f, "key", fw), _str(f, "label", fw), kind, required, prompt, tuple(choices)
                )
            )
        scope = _enum(Scope, _str(s, "scope", where), f"{where}.scope")
        sections.append(TemplateSection(_str(s, "key", where), _str(s, "label", where), scope, tuple(fields)))
    return NoteTemplate(_str(d, "modality", "template"), _str(d, "name", "template"), tuple(sections))


def _object(value: object, where: str, required: set[str], optional: set[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be an object")
    keys = set(value)
    if keys - required - optional:
        raise ValueError(f"{where}: has unknown keys")
    if required - keys:
        raise ValueError(f"{where}: misses {', '.join(sorted(required - keys))}")
    return value


def _list(d: Mapping[str, object], name: str, where: str) -> list[object]:
    value = d[name]
    if not isinstance(value, list):
        raise ValueError(f"{where}.{name}: must be a list")
    return value


def _str(d: Mapping[str, object], name: str, where: str) -> str:
    value = d[name]
    if not isinstance(value, str):
        raise ValueError(f"{where}.{name}: must be a string")
    return value


def _enum(cls: type[_E], value: str, where: str) -> _E:
    if value not in {m.value for m in cls}:
        raise ValueError(f"{where}: is not one of {', '.join(m.value for m in cls)}")
    return cls(value)


# -- the admin's configuration ----------------------------------------------------------------------


def template_problems(t: NoteTemplate, prefix: str = "template") -> list[FieldProblem]:
    """Problems with a template a tenant admin edited; [] when it can be used for new notes."""
    problems: list[FieldProblem] = []
    for name, value in (("modality", t.modality), ("name", t.name)):
        if not value.strip():
            problems.append(FieldProblem(f"{prefix}.{name}", "required", "must not be empty"))
    section_keys: set[str] = set()
    field_keys: dict[Scope, set[str]] = {s: set() for s in Scope}
    for i, section in enumerate(t.sections):
        sp = f"{prefix}.sections[{i}]"
        problems += _key_problems(section.key, section_keys, f"{sp}.key")
        problems += _label_problems(section.label, f"{sp}.label")
        if not section.fields:
            problems.append(FieldProblem(f"{sp}.fields", "required", "a section needs at least one field"))
        for j, field in enumerate(section.fields):
            fp = f"{sp}.fields[{j}]"
            problems += _key_problems(field.key, field_keys[section.scope], f"{fp}.key")
            problems += _label_problems(field.label, f"{fp}.label")
            problems += _choice_problems(field, f"{fp}.choices")
    for scope in Scope:
        if not field_keys[scope]:
            problems.append(FieldProblem(f"{prefix}.sections", "missing_scope", f"needs {scope} fields"))
    if sum(len(s.fields) for s in t.sections) > MAX_FIELDS:
        problems.append(FieldProblem(f"{prefix}.sections", "too_many_fields", f"at most {MAX_FIELDS} fields"))
    member = t.fields(Scope.MEMBER)
    for kind in (FieldKind.GOAL_PROGRESS, FieldKind.RISK):
        if not any(f.kind == kind and f.required for f in member):
            problems.append(
                FieldProblem(
                    f"{prefix}.sections", f"{kind}_required", f"member notes need a required {kind} field"
                )
            )
    return problems


def _key_problems(key: str, seen: set[str], path: str) -> list[FieldProblem]:
    problems = []
    if not _KEY.fullmatch(key):
        problems.append(FieldProblem(path, "invalid_key", "must be a snake_case identifier"))
    elif key in seen:
        problems.append(FieldProblem(path, "duplicate", "is used twice"))
    seen.add(key)
    return problems


def _label_problems(label: str, path: str) -> list[FieldProblem]:
    if not label.strip():
        return [FieldProblem(path, "required", "must not be empty")]
    if len(label) > 200:
        return [FieldProblem(path, "too_long", "must be at most 200 characters")]
    return []


def _choice_problems(field: TemplateField, path: str) -> list[FieldProblem]:
    if field.kind != FieldKind.CHOICE:
        return [FieldProblem(path, "not_allowed", "only choice fields have choices")] if field.choices else []
    if not field.choices:
        return [FieldProblem(path, "required", "a choice field needs choices")]
    if any(not c.strip() for c in field.choices) or len(set(field.choices)) != len(field.choices):
        return [FieldProblem(path, "invalid", "choices must be non-empty and distinct")]
    return []


# -- content: drafting and signing ------------------------------------------------------------------


def content_problems(
    t: NoteTemplate, scope: Scope, content: Mapping[str, object], prefix: str
) -> list[FieldProblem]:
    """Drafting check: the shape of what was typed. Empty or missing values are fine until signing."""
    fields = {f.key: f for f in t.fields(scope)}
    problems: list[FieldProblem] = []
    for key, value in content.items():
        field = fields.get(key)
        if field is None:
            problems.append(
                FieldProblem(f"{prefix}.{key}", "unknown_field", "is not a field of this template")
            )
        elif value is not None:
            problems += _value_problems(field, value, f"{prefix}.{key}")
    return problems


def _value_problems(field: TemplateField, value: object, path: str) -> list[FieldProblem]:
    match field.kind:
        case FieldKind.TEXT | FieldKind.LONG_TEXT:
            return _text_problems(value, path)
        case FieldKind.CHOICE:
            return _member_of(value, field.choices, path)
        case FieldKind.BOOLEAN:
            return [] if isinstance(value, bool) else [_wrong_type(path, "true or false")]
        case FieldKind.GOAL_PROGRESS:
            return _goal_problems(value, path)
        case FieldKind.RISK:
            if not isinstance(value, Mapping):
                return [_wrong_type(path, "an object")]
            return [
                *_unknown_keys(value, {"level", "note"}, path),
                *_member_of(value.get("level"), tuple(RiskLevel), f"{path}.level"),
                *_text_problems(value.get("note"), f"{path}.note"),
            ]


def _goal_problems(value: object, path: str) -> list[FieldProblem]:
    if not isinstance(value, list):
        return [_wrong_type(path, "a list")]
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        ep = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(_wrong_type(ep, "an object"))
            continue
        problems += _unknown_keys(entry, {"goalId", "progress", "note"}, ep)
        goal = entry.get("goalId")
        # An entry is about one treatment-plan goal, so the goal is structure, needed even in a draft.
        if not isinstance(goal, str) or not goal.strip():
            problems.append(FieldProblem(f"{ep}.goalId", "required", "must name a treatment-plan goal"))
        elif goal in seen:
            problems.append(FieldProblem(f"{ep}.goalId", "duplicate", "the goal is rated twice"))
        else:
            seen.add(goal)
        problems += _member_of(entry.get("progress"), tuple(GoalProgress), f"{ep}.progress")
        problems += _text_problems(entry.get("note"), f"{ep}.note")
    return problems


def _text_problems(value: object, path: str) -> list[FieldProblem]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [_wrong_type(path, "text")]
    if len(value) > MAX_TEXT:
        return [FieldProblem(path, "too_long", f"must be at most {MAX_TEXT:,} characters")]
    return []


def _member_of(value: object, choices: tuple[str, ...], path: str) -> list[FieldProblem]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        return [_wrong_type(path, "text")]
    return (
        [] if value in choices else [FieldProblem(path, "not_a_choice", "is not one of the allowed choices")]
    )


def _unknown_keys(value: Mapping[str, object], allowed: set[str], path: str) -> list[FieldProblem]:
    return [
        FieldProblem(f"{path}.{k}", "unknown_field", "is not part of this field")
        for k in value
        if k not in allowed
    ]


def _wrong_type(path: str, expected: str) -> FieldProblem:
    return FieldProblem(path, "wrong_type", f"must be {expected}")


def missing_required(
    t: NoteTemplate, scope: Scope, content: Mapping[str, object], prefix: str
) -> list[FieldProblem]:
    """Signing check: required fields filled, every goal entry rated, every risk assessment given a level.

    Run content_problems first; this check only looks for what is missing and ignores wrong types.
    """
    problems: list[FieldProblem] = []
    for field in t.fields(scope):
        path = f"{prefix}.{field.key}"
        value = content.get(field.key)
        if _is_empty(value):
            if field.required:
                problems.append(FieldProblem(path, "required", "must be filled in before signing"))
        elif field.kind == FieldKind.GOAL_PROGRESS and isinstance(value, list):
            problems += [
                FieldProblem(f"{path}[{i}].progress", "required", "rate progress toward the goal")
                for i, entry in enumerate(value)
                if isinstance(entry, Mapping) and _is_empty(entry.get("progress"))
            ]
        elif field.kind == FieldKind.RISK and isinstance(value, Mapping):
            level = value.get("level")
            if _is_empty(level):
                problems.append(FieldProblem(f"{path}.level", "required", "record the risk level"))
            elif level in RISK_NEEDS_NOTE and _is_empty(value.get("note")):
                problems.append(
                    FieldProblem(f"{path}.note", "required", "a high risk needs the actions taken")
                )
    return problems


def _is_empty(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | Mapping):
        return all(_is_empty(v) for v in (value.values() if isinstance(value, Mapping) else value))
    return value is None


def risk_level(content: Mapping[str, object]) -> RiskLevel | None:
    """The highest risk level recorded in any risk field of `content`; None when none is recorded."""
    levels = [
        RiskLevel(level)
        for v in content.values()
        if isinstance(v, Mapping) and isinstance(level := v.get("level"), str) and level in RISK_ORDER
    ]
    return max(levels, key=RISK_ORDER.index, default=None)


def goal_ids(content: Mapping[str, object]) -> set[str]:
    """Treatment-plan goal ids rated in any goal-progress field (the caller checks they are the member's)."""
    return {
        goal
        for v in content.values()
        if isinstance(v, list)
        for entry in v
        if isinstance(entry, Mapping) and isinstance(goal := entry.get("goalId"), str) and goal.strip()
    }


# -- defaults -------------------------------------------------------------------------------------

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
