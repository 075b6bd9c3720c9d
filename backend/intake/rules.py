"""Intake screening forms and answers (pure).

A program's tenant admin writes the form: questions of four kinds, each optionally marking a
contraindication (`contraindication_if`), and the baseline measures to collect before the first
session. Submitting answers validates them against the form; a contraindication found is recorded
under the question's key and blocks waitlist placement in that program (backend.waitlist.ranking).

`contraindication_if` by kind: boolean "true"/"false"; choice and text the answer that
contraindicates (text case-insensitive); number a comparison such as ">= 20" (>=, >, <=, <, =).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backend.errors import FieldProblem


class QuestionKind(enum.StrEnum):
    TEXT = "text"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    NUMBER = "number"


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
INSTRUMENT = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
COMPARISON = re.compile(r"^\s*(>=|<=|>|<|=)\s*(-?\d+(\.\d+)?)\s*$")
MAX_QUESTIONS = 60
MAX_PROMPT = 500
MAX_TEXT_ANSWER = 2000
MAX_CHOICES = 30
MAX_MEASURES = 12


@dataclass(frozen=True)
class IntakeQuestion:
    key: str
    prompt: str
    kind: QuestionKind
    required: bool = False
    choices: tuple[str, ...] = ()
    contraindication_if: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "prompt": self.prompt,
            "kind": self.kind.value,
            "required": self.required,
            "choices": list(self.choices),
            "contraindication_if": self.contraindication_if,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> IntakeQuestion:
        choices = value.get("choices") or []
        condition = value.get("contraindication_if")
        return cls(
            key=str(value["key"]),
            prompt=str(value["prompt"]),
            kind=QuestionKind(str(value["kind"])),
            required=bool(value.get("required")),
            choices=tuple(str(c) for c in choices) if isinstance(choices, list) else (),
            contraindication_if=None if condition is None else str(condition),
        )


@dataclass(frozen=True)
class IntakeResult:
    """Typed answers by key, and the keys of the questions whose answer contraindicates."""

    answers: dict[str, object] = field(default_factory=dict)
    contraindications: tuple[str, ...] = ()


def validate_form(
    questions: Sequence[IntakeQuestion], baseline_measures: Sequence[str]
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if len(questions) > MAX_QUESTIONS:
        problems.append(FieldProblem("questions", "too_many", f"must be at most {MAX_QUESTIONS}"))
    seen: set[str] = set()
    for i, q in enumerate(questions):
        at = f"questions[{i}]"
        if not KEY.match(q.key):
            problems.append(
                FieldProblem(f"{at}.key", "invalid_key", "must be a snake_case name of 1-40 characters")
            )
        elif q.key in seen:
            problems.append(FieldProblem(f"{at}.key", "duplicate", "is used by another question"))
        seen.add(q.key)
        if not q.prompt.strip() or len(q.prompt) > MAX_PROMPT:
            problems.append(FieldProblem(f"{at}.prompt", "invalid", f"must be 1-{MAX_PROMPT} characters"))
        if q.kind == QuestionKind.CHOICE and not q.choices:
            problems.append(FieldProblem(f"{at}.choices", "required", "a choice question needs choices"))
        if q.kind != QuestionKind.CHOICE and q.choices:
            problems.append(
                FieldProblem(f"{at}.choices", "not_allowed", "only choice questions have choices")
            )
        if len(q.choices) > MAX_CHOICES or any(not c.strip() for c in q.choices):
            problems.append(
                FieldProblem(f"{at}.choices", "invalid", f"must be 1-{MAX_CHOICES} non-blank choices")
            )
        if q.contraindication_if is not None and not _condition_ok(q):
            problems.append(
                FieldProblem(
                    f"{at}.contraindicationIf",
                    "invalid_condition",
                    f"is not a condition for a {q.kind.value} question",
                )
            )
    if len(baseline_measures) > MAX_MEASURES:
        problems.append(FieldProblem("baselineMeasures", "too_many", f"must be at most {MAX_MEASURES}"))
    if any(not INSTRUMENT.match(code) for code in baseline_measures):
        problems.append(
            FieldProblem("baselineMeasures", "invalid_code", "must be instrument codes such as PHQ-9")
        )
    return problems


def _condition_ok(q: IntakeQuestion) -> bool:
    condition = q.contraindication_if or ""
    if q.kind == QuestionKind.BOOLEAN:
        return condition in ("true", "false")
    if q.kind == QuestionKind.CHOICE:
        return condition in q.choices
    if q.kind == QuestionKind.NUMBER:
        return COMPARISON.match(condition) is not None
    return bool(condition.strip())


def evaluate(
    questions: Sequence[IntakeQuestion], answers: Mapping[str, str]
) -> tuple[IntakeResult, list[FieldProblem]]:
    """Typed answers and contraindications found, or the problems (field `answers.<key>`)."""
    problems: list[FieldProblem] = []
    by_key = {q.key: q for q in questions}
    for key in answers:
        if key not in by_key:
            problems.append(
                FieldProblem(f"answers.{key}", "unknown_question", "is not a question of this form")
            )
    typed: dict[str, object] = {}
    found: list[str] = []
    for q in questions:
        raw = answers.get(q.key)
        if raw is None or not raw.strip():
            if q.required:
                problems.append(FieldProblem(f"answers.{q.key}", "required", "must be answered"))
            continue
        value, problem = _parse(q, raw.strip())
        if problem is not None:
            problems.append(FieldProblem(f"answers.{q.key}", problem[0], problem[1]))
            continue
        typed[q.key] = value
        if q.contraindication_if is not None and _contraindicates(q, value):
            found.append(q.key)
    return IntakeResult(typed, tuple(found)), problems


def _parse(q: IntakeQuestion, raw: str) -> tuple[object, tuple[str, str] | None]:
    if q.kind == QuestionKind.BOOLEAN:
        if raw.lower() not in ("true", "false"):
            return None, ("invalid_boolean", "must be true or false")
        return raw.lower() == "true", None
    if q.kind == QuestionKind.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            return None, ("invalid_number", "must be a number")
        return (int(number) if number.is_integer() else number), None
    if q.kind == QuestionKind.CHOICE:
        if raw not in q.choices:
            return None, ("invalid_choice", "must be one of the question's choices")
        return raw, None
    if len(raw) > MAX_TEXT_ANSWER:
        return None, ("too_long", f"must be at most {MAX_TEXT_ANSWER} characters")
    return raw, None


def _contraindicates(q: IntakeQuestion, value: object) -> bool:
    condition = q.contraindication_if or ""
    if q.kind == QuestionKind.BOOLEAN:
        return value is (condition == "true")
    if q.kind == QuestionKind.NUMBER:
        match = COMPARISON.match(condition)
        if match is None or not isinstance(value, int | float):
            return False
        op, limit = match.group(1), float(match.group(2))
        return {
            ">=": value >= limit,
            ">": value > limit,
            "<=": value <= limit,
            "<": value < limit,
            "=": value == limit,
        }[op]
    if q.kind == QuestionKind.TEXT:
        return str(value).casefold() == condition.strip().casefold()
    return value == condition
