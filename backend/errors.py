"""Problems with user input, as values: the GraphQL layer maps them to typed errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field: `field` is the GraphQL input name, `code` machine-readable."""

    field: str
    code: str
    message: str


class InputRejected(Exception):
    """Raised inside a unit of work to roll it back and answer with typed field errors."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(", ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems
