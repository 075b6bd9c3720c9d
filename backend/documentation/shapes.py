"""Statements built once per viewer shape and run with each caller's values bound.

Building a loader's statement (privacy and Part 2 clauses included) and computing its cache key
cost more Python time than PostgreSQL spends running it. The clauses bind the viewer's values as
named parameters (backend.documentation.access, backend.compliance.part2.access), so a statement
depends only on the viewer's shape (roles, staff or client) and is built once per shape.

Every per-call value is a parameter named "v_...". A cached statement still carries the values of
the caller it was first built for, so `bound` refuses to run one unless every "v_" parameter is
given: a missing value fails loudly instead of reading with another viewer's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Executable, Uuid, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

PREFIX = "v_"
#: The session a loader reads: the per-call value most shaped statements bind.
SESSION_ID = bindparam("v_session_id", type_=Uuid())


class ShapedStatements:
    """One loader's statements, keyed by the viewer's shape and whatever else fixes the SQL text."""

    def __init__(self, build: Callable[..., Executable]) -> None:
        self._build = build
        # key -> (statement, the names of its per-call parameters); bounded by the few role sets and
        # flags that exist: a new key is a new shape, never a new viewer.
        self._cache: dict[Hashable, tuple[Executable, frozenset[str]]] = {}

    def bind(
        self, key: Hashable, params: Mapping[str, object], *args: Any
    ) -> tuple[Executable, dict[str, object]]:
        """The statement for `key` (built from `args` on first use) and its per-call parameters,
        after checking that `params` gives every one of them."""
        cached = self._cache.get(key)
        if cached is None:
            statement = self._build(*args)
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
            cached = self._cache[key] = (
                statement,
                frozenset(n for n in compiled.params if n.startswith(PREFIX)),
            )
        statement, names = cached
        missing = names - params.keys()
        if missing:
            raise ValueError(f"shaped statement run without {sorted(missing)}")
        return statement, {name: params[name] for name in names}
