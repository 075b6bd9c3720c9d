"""`create_all` (used to provision) and the Alembic trees (used to migrate) build the same schemas."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.schema import CreateSchema, DropSchema

from backend.database import Database
from backend.tables import SharedBase, TenantBase
from backend.tenants.migrations import (
    SHARED_SCHEMA,
    VERSION_TABLE,
    autogenerate_engine,
    prepare_environment,
    script_directory,
    upgrade_tenant_schema,
)
from backend.tenants.models import Tenant
from tests.tenants.catalog import differences, snapshot
from tests.tenants.conftest import NewDatabase


@pytest.fixture
def migrated_schema(database: Database) -> Iterator[str]:
    """A schema (not a registered clinic) built by running every tenant revision from empty."""
    schema = f"parity_{uuid.uuid4().hex[:10]}"
    with database.engine.begin() as conn:
        conn.execute(CreateSchema(schema))
        upgrade_tenant_schema(conn, schema, script_directory("tenant"))
    yield schema
    with database.engine.begin() as conn:
        conn.execute(DropSchema(schema, cascade=True))


def test_tenant_migrations_build_the_same_schema_as_create_all(
    database: Database, make_clinic: Callable[..., Tenant], migrated_schema: str
) -> None:
    """A clinic provisioned by create_all + stamp equals a schema built by all tenant revisions from empty."""
    clinic = make_clinic()
    with database.engine.connect() as conn:
        created_shape = snapshot(conn, clinic.schema_name)
        migrated_shape = snapshot(conn, migrated_schema)

    tables = {row[0] for row in created_shape["relations"]}
    assert set(TenantBase.metadata.tables) | {VERSION_TABLE} <= tables
    assert differences(created_shape, migrated_shape) == {}


def test_shared_migrations_build_the_same_schema_as_create_all(
    database: Database, new_database: NewDatabase
) -> None:
    """`public` built by the shared tree equals `public` built by SharedBase.metadata.create_all."""
    migrated = database
    created = new_database(shared=False)
    SharedBase.metadata.create_all(created.engine)
    ignore = frozenset({VERSION_TABLE})
    with migrated.engine.connect() as conn:
        migrated_shape = snapshot(conn, SHARED_SCHEMA, ignore)
    with created.engine.connect() as conn:
        created_shape = snapshot(conn, SHARED_SCHEMA, ignore)

    tables = {row[0] for row in created_shape["relations"]}
    assert {t.name for t in SharedBase.metadata.tables.values()} <= tables
    assert differences(created_shape, migrated_shape) == {}


def test_autogenerate_finds_nothing_to_do_at_either_head(database: Database, migrated_schema: str) -> None:
    """Alembic's own comparison of the models with schemas built by both trees reports no difference."""
    engine = autogenerate_engine(database.engine)
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(conn, opts=prepare_environment("shared", conn))
            shared_diff = compare_metadata(context, SharedBase.metadata)
        with engine.begin() as conn:
            options = prepare_environment("tenant", conn, migrated_schema)
            context = MigrationContext.configure(conn, opts=options)
            tenant_diff = compare_metadata(context, TenantBase.metadata)
    finally:
        engine.dispose()
    assert shared_diff == []
    assert tenant_diff == []
