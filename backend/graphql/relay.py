"""Relay conventions: global ids and keyset (cursor) connections.

Cursors hold the sort key of the last row, not an offset, so pages stay stable while rows are
added and a page costs one indexed range scan however deep it is.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import strawberry
from sqlalchemy import ColumnElement, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from backend.errors import FieldProblem, InputRejected
from backend.graphql.errors import BadRequest

NodeT = TypeVar("NodeT")
MAX_PAGE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_plain(v) for v in values]).encode()).decode()


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadRequest("after", "is not a cursor from this list") from exc
    if not isinstance(values, list) or len(values) != size:
        raise BadRequest("after", "is not a cursor from this list")
    return values


@dataclass(frozen=True)
class Keyset:
    """The ordered, unique columns a list is sorted by (the last one is the primary key)."""

    columns: tuple[Any, ...]  # mapped columns (InstrumentedAttribute) in sort order

    def after(self, cursor: str) -> ColumnElement[bool]:
        values = decode_cursor(cursor, len(self.columns))
        try:
            bound = [
                bindparam(None, _parse(c.type.python_type, v), type_=c.type)
                for c, v in zip(self.columns, values, strict=True)
            ]
        except (TypeError, ValueError) as exc:
            raise BadRequest("after", "is not a cursor from this list") from exc
        return tuple_(*self.columns) > tuple_(*bound)


def _parse(kind: type, value: Any) -> Any:
    if value is None or isinstance(value, kind):
        return value
    if kind is UUID:
        return UUID(value)
    if kind in (date, datetime):
        return kind.fromisoformat(value)
    raise TypeError(kind)


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    keyset: Keyset,
    first: int,
    after: str | None,
    to_node: Callable[[Any], NodeT],
) -> tuple[list[Any], Connection[NodeT]]:
    """Fetch one page of `stmt` (which selects one entity) and its connection."""
    if not 1 <= first <= MAX_PAGE:
        raise BadRequest("first", f"must be between 1 and {MAX_PAGE}")
    if after is not None:
        stmt = stmt.where(keyset.after(after))
    rows = list((await session.scalars(stmt.order_by(*keyset.columns).limit(first + 1))).all())
    page = rows[:first]
    edges = [Edge(cursor=encode_cursor(_key(row, keyset)), node=to_node(row)) for row in page]
    info = PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None)
    return page, Connection(edges=edges, page_info=info)


def _key(row: Any, keyset: Keyset) -> list[Any]:
    return [getattr(row, column.key) for column in keyset.columns]


def parse_id(value: str, field: str, *, in_input: bool = True) -> UUID:
    """A UUID from a plain id or a relay global id.

    A malformed one is a problem with input field `field` (answered as InvalidInput by the
    mutation's savepoint) or, for a query argument (`in_input=False`), a BAD_USER_INPUT error.
    """
    try:
        return UUID(value)
    except ValueError:
        pass
    try:
        return UUID(relay.GlobalID.from_id(value).node_id)
    except (ValueError, TypeError):
        if in_input:
            raise InputRejected([FieldProblem(field, "invalid_id", "is not an id")]) from None
        raise BadRequest(field, "is not an id") from None


def parse_optional_id(value: str | None, field: str) -> UUID | None:
    return None if value is None else parse_id(value, field)
