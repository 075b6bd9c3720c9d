"""One transaction per request; one savepoint per mutation field.

Each mutation field runs in a savepoint that is rolled back when it raises or returns a typed
error, so bad input stores nothing (its audit events are dropped with it); the request's
transaction commits with the audit events of every read when the operation ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension, SchemaExtension

from backend.errors import InputRejected
from backend.graphql.errors import InvalidInput, NotFound, is_user_error

log = logging.getLogger(__name__)
T = TypeVar("T")


class Atomic(FieldExtension):
    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        context = info.context
        savepoint = await context.session.begin_nested()
        mark = context.audit_mark()
        try:
            result = await next_(source, info, **kwargs)
        except InputRejected as rejected:
            await savepoint.rollback()
            context.discard_audit_since(mark)
            return InvalidInput.of(rejected.problems)
        except BaseException:
            await savepoint.rollback()
            context.discard_audit_since(mark)
            raise
        if is_user_error(result):
            await savepoint.rollback()
            context.discard_audit_since(mark)
        else:
            await savepoint.commit()
        return result


class RequestTransaction(SchemaExtension):
    """Commits the request's session after execution; a failed commit becomes an error, not data."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        context.operation_name = self.execution_context.operation_name
        yield

    async def on_execute(self) -> Any:
        yield
        context = self.execution_context.context
        try:
            await context.finish(commit=True)
        except Exception as exc:
            # The exception text may quote row data: log its class only.
            log.error("request commit failed: %s", type(exc).__name__)
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [GraphQLError("The change could not be saved; nothing was stored.")]


async def or_not_found(work: Awaitable[T]) -> T | NotFound:
    """An id the store could not find becomes NotFound naming it; other problems stay InvalidInput."""
    try:
        return await work
    except InputRejected as rejected:
        first = rejected.problems[0]
        if first.code != "not_found":
            raise
        return NotFound.of(first.field)
