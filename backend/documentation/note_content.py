"""What a clinician typed into a note, checked against its template, at two moments.

`content_problems` while drafting (shape only: unknown keys, wrong types, choices, length; empty is fine,
a clinician saves half-written notes) and `missing_required` at signing (required fields filled, each goal
entry rated, each risk assessment given a level). `risk_level` and `goal_ids` read what signing acts on:
the risk flag to raise and the treatment-plan goals the section rates.
"""

from __future__ import annotations

from collections.abc import Mapping

from backend.documentation.templates import (
    MAX_TEXT,
    RISK_NEEDS_NOTE,
    RISK_ORDER,
    FieldKind,
    GoalProgress,
    NoteTemplate,
    RiskLevel,
    Scope,
    TemplateField,
)
from backend.errors import FieldProblem


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
