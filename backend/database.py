"""Engines and declarative bases.

Two metadata trees: `SharedBase` tables live in `public` (tenant registry, users, memberships,
refresh tokens); `TenantBase` tables declare no schema and are routed to one clinic's schema by
`schema_translate_map` (see `backend.tenants.routing`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import DateTime, Engine, Enum, MetaData, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.settings import Settings, get_settings

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class SharedBase(DeclarativeBase):
    metadata = MetaData(schema="public", naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def text_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A VARCHAR column with a CHECK constraint for a StrEnum (no PostgreSQL enum type per schema,
    so adding a value is a plain constraint change in a migration)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=30,
        values_callable=lambda members: [m.value for m in members],
    )


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


@dataclass(frozen=True)
class Database:
    url: str
    engine: Engine
    async_engine: AsyncEngine

    def dispose(self) -> None:
        self.engine.dispose()


def database_url(settings: Settings) -> str:
    if settings.database_url:
        url = settings.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    from backend.embedded import postgres_url

    return postgres_url(settings.data_dir)


def connect(url: str, pool_size: int = 5) -> Database:
    # Many tenant schemas make each backend's catalog cache heavy: keep pools small and recycle.
    # hide_parameters: SQLAlchemy errors would otherwise quote bound values (PHI) in their text.
    options = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_recycle": 1800,
        "pool_pre_ping": True,
        "hide_parameters": True,
    }
    return Database(url, create_engine(url, **options), create_async_engine(url, **options))


@lru_cache(maxsize=1)
def get_database() -> Database:
    settings = get_settings()
    return connect(database_url(settings), settings.db_pool_size)
