"""Validation of a client record: pure functions returning field errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from backend.errors import FieldProblem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OLDEST_PLAUSIBLE_AGE_YEARS = 125


@dataclass(frozen=True)
class ClientDraft:
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None


def validate_client(draft: ClientDraft, today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for field, value in (("firstName", draft.first_name), ("lastName", draft.last_name)):
        if not value.strip():
            problems.append(FieldProblem(field, "required", "must not be blank"))
        elif len(value) > 100:
            problems.append(FieldProblem(field, "too_long", "must be at most 100 characters"))
    if draft.date_of_birth > today:
        problems.append(FieldProblem("dateOfBirth", "in_future", "must not be in the future"))
    elif today.year - draft.date_of_birth.year > OLDEST_PLAUSIBLE_AGE_YEARS:
        problems.append(FieldProblem("dateOfBirth", "implausible", "is more than 125 years ago"))
    if draft.email is not None and not EMAIL.match(draft.email):
        problems.append(FieldProblem("email", "invalid_format", "is not an email address"))
    return problems
