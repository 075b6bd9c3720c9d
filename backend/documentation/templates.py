"""Note templates per modality: which fields a group note, a member's section and an absence note have.

A template has sections; each section belongs to one scope and lists its fields:

| Scope   | What it documents                                              | Lands on                 |
|---------|----------------------------------------------------------------|--------------------------|
| group   | theme or module, activities, interventions, group process,     | every attendee's record  |
|         | critical incidents                                             |                          |
| member  | participation, response to interventions, goal progress,       | that member's record     |
|         | homework or diary card review, risk assessment, plan           |                          |
| absence | outreach attempted, a brief note                               | the absent member's      |

Content is JSON, one object per scope instance: {"<fieldKey>": value}; its checks (drafting and signing)
live in `backend.documentation.note_content`, the built-in templates in
`backend.documentation.default_templates`. A tenant admin may edit templates; `template_problems` checks an
edited template, and keeps a clinical floor: every member section keeps a required goal-progress and a
required risk field (both are expected in every member's note by auditors and payers).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
