"""Route a session to one clinic's schema with `schema_translate_map`.

The map is set on a per-schema Engine proxy (sharing the pool) and the session is bound to it,
so it survives commits and is safe behind a transaction-pooling PgBouncer, unlike a
session-level `SET search_path` (django-tenants #1112). `text()` SQL is NOT translated: tenant
code uses Core/ORM constructs only. Field encryption follows the same map: before each statement
backend.compliance.encryption.field_crypto picks the keyring of the clinic the statement is routed to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$")
SCHEMA_PREFIX = "clinic_"
TEMPLATE_SCHEMA = "clinic_template"


def schema_for(slug: str) -> str:
    """The schema name of a clinic; slugs are validated so the name is a safe identifier."""
    if not SLUG.match(slug):
        raise ValueError("invalid clinic slug")
    return SCHEMA_PREFIX + slug.replace("-", "_")


def _translated(engine: Engine, schema: str) -> Engine:
    return engine.execution_options(schema_translate_map={None: schema})


_sync_cache: dict[tuple[int, str], Engine] = {}
_async_cache: dict[tuple[int, str], AsyncEngine] = {}


def tenant_engine(engine: Engine, schema: str) -> Engine:
    key = (id(engine), schema)
    cached = _sync_cache.get(key)
    if cached is None:
        cached = _sync_cache[key] = _translated(engine, schema)
    return cached


def tenant_async_engine(engine: AsyncEngine, schema: str) -> AsyncEngine:
    key = (id(engine), schema)
    cached = _async_cache.get(key)
    if cached is None:
        cached = _async_cache[key] = engine.execution_options(schema_translate_map={None: schema})
    return cached


def session_schema(session: Session) -> str:
    """The clinic schema a sync session is routed to (set by `tenant_session` or the worker)."""
    options = session.get_bind().get_execution_options()
    schema = options.get("schema_translate_map", {}).get(None)
    if not schema:
        raise ValueError("session is not routed to a clinic schema")
    return str(schema)


@contextmanager
def tenant_session(engine: Engine, schema: str) -> Iterator[Session]:
    """A sync session in one clinic's schema, committed on success and rolled back on error."""
    with Session(tenant_engine(engine, schema), expire_on_commit=False) as session, session.begin():
        yield session


def tenant_async_session(engine: AsyncEngine, schema: str) -> AsyncSession:
    return AsyncSession(tenant_async_engine(engine, schema), expire_on_commit=False)
