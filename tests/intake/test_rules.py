"""Intake forms and answers: validation, typed answers, contraindications found."""

from __future__ import annotations

from backend.intake.rules import IntakeQuestion, QuestionKind, evaluate, validate_form

PSYCHOSIS = IntakeQuestion(
    "active_psychosis", "Current psychotic symptoms?", QuestionKind.BOOLEAN, True, (), "true"
)
PHQ = IntakeQuestion("phq9_total", "PHQ-9 total at screening", QuestionKind.NUMBER, True, (), ">= 20")
SHIFT = IntakeQuestion(
    "preferred_time", "Preferred time", QuestionKind.CHOICE, False, ("evening", "day"), None
)
NOTES = IntakeQuestion("goals", "Goals for group", QuestionKind.TEXT)
FORM = [PSYCHOSIS, PHQ, SHIFT, NOTES]


def test_a_well_formed_form_has_no_problems() -> None:
    """Four kinds with valid conditions and instrument codes pass."""
    assert validate_form(FORM, ["PHQ-9", "GAD-7"]) == []


def test_form_problems_name_the_question_field() -> None:
    """Duplicate key, choice without choices, bad condition and bad code each name their field."""
    questions = [
        PSYCHOSIS,
        IntakeQuestion("active_psychosis", "Again", QuestionKind.TEXT),
        IntakeQuestion("shift", "Shift", QuestionKind.CHOICE),
        IntakeQuestion("score", "Score", QuestionKind.NUMBER, contraindication_if="lots"),
    ]
    fields = {(p.field, p.code) for p in validate_form(questions, ["phq 9"])}
    assert fields == {
        ("questions[1].key", "duplicate"),
        ("questions[2].choices", "required"),
        ("questions[3].contraindicationIf", "invalid_condition"),
        ("baselineMeasures", "invalid_code"),
    }


def test_missing_required_answers_are_named_by_key() -> None:
    """Each unanswered required question is answers.<key> / required."""
    _, problems = evaluate(FORM, {"goals": "sleep better"})
    assert {(p.field, p.code) for p in problems} == {
        ("answers.active_psychosis", "required"),
        ("answers.phq9_total", "required"),
    }


def test_answers_are_typed_and_wrong_types_rejected() -> None:
    """Booleans and numbers are parsed; a non-number and an unknown choice are errors."""
    result, problems = evaluate(
        FORM, {"active_psychosis": "false", "phq9_total": "12", "preferred_time": "day"}
    )
    assert problems == [] and result.answers == {
        "active_psychosis": False,
        "phq9_total": 12,
        "preferred_time": "day",
    }
    _, problems = evaluate(FORM, {"active_psychosis": "maybe", "phq9_total": "x", "preferred_time": "night"})
    assert {p.code for p in problems} == {"invalid_boolean", "invalid_number", "invalid_choice"}


def test_unknown_question_keys_are_rejected() -> None:
    """An answer to a question the form does not ask is an error, not silently kept."""
    _, problems = evaluate(FORM, {"active_psychosis": "false", "phq9_total": "3", "diagnosis": "x"})
    assert [(p.field, p.code) for p in problems] == [("answers.diagnosis", "unknown_question")]


def test_contraindications_are_found_by_condition() -> None:
    """true on a boolean and a score at the threshold each record the question key."""
    result, _ = evaluate(FORM, {"active_psychosis": "true", "phq9_total": "20"})
    assert result.contraindications == ("active_psychosis", "phq9_total")
    result, _ = evaluate(FORM, {"active_psychosis": "false", "phq9_total": "19.5"})
    assert result.contraindications == ()
