"""Typed errors returned by mutations (errors are values), and the GraphQL errors for access.

Every user error names the input field it is about (`field`, null only when the error is about
the request as a whole) and the reason (`code` for programs, `message` for people).
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from backend.errors import FieldProblem


@strawberry.interface
class UserError:
    field: str | None
    code: str
    message: str


@strawberry.type
class FieldError:
    field: str
    code: str
    message: str

    @classmethod
    def of(cls, problem: FieldProblem) -> FieldError:
        return cls(field=problem.field, code=problem.code, message=problem.message)


@strawberry.type
class InvalidInput(UserError):
    """One or more input fields were rejected; nothing was stored."""

    errors: list[FieldError]

    @classmethod
    def of(cls, problems: list[FieldProblem]) -> InvalidInput:
        first = problems[0]
        return cls(
            field=first.field,
            code=first.code,
            message=f"{first.field} {first.message}",
            errors=[FieldError.of(p) for p in problems],
        )


@strawberry.type
class NotFound(UserError):
    """The id does not name a record this caller can see in this clinic."""

    @classmethod
    def of(cls, field: str) -> NotFound:
        return cls(field=field, code="not_found", message=f"{field} does not name a record in this clinic")


class AccessError(GraphQLError):
    """A GraphQL error about access; shown to clients even when other errors are masked."""

    def __init__(self, message: str, code: str, extensions: dict[str, Any] | None = None) -> None:
        super().__init__(message, extensions={"code": code, **(extensions or {})})


class Unauthenticated(AccessError):
    def __init__(self) -> None:
        super().__init__("Sign in first: this field needs an access token", "UNAUTHENTICATED")


class Forbidden(AccessError):
    def __init__(self, resource: str, action: str) -> None:
        super().__init__(f"Your roles in this clinic do not allow {action} on {resource}", "FORBIDDEN")


class BadRequest(AccessError):
    """A malformed argument that is not a mutation input (a cursor, a page size, a global id)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", "BAD_USER_INPUT", {"field": field})


def is_user_error(value: object) -> bool:
    return isinstance(value, UserError)
