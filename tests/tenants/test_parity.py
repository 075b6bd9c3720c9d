"""`create_all` (used to provision) and the Alembic trees (used to migrate) build the same schemas."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.schema import CreateSchema

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
from backend.tenants.provisioning import provision_tenant
from tests.tenants.catalog import differences, snapshot
from tests.tenants.conftest import NewDatabase


def test_tenant_migrations_build_the_same_schema_as_create_all(scratch: Database) -> None:
    """A clinic provisioned by create_all + stamp equals a schema built by all tenant revisions from empty."""
    clinic = provision_tenant(scratch.engine, "parity-created", "Clinic")
    migrated = "clinic_parity_migrated"
    with scratch.engine.begin() as conn:
        conn.execute(CreateSchema(migrated))
        upgrade_tenant_schema(conn, migrated, script_directory("tenant"))
    with scratch.engine.connect() as conn:
        created_shape = snapshot(conn, clinic.schema_name)
        migrated_shape = snapshot(conn, migrated)

    tables = {row[0] for row in created_shape["relations"]}
    assert set(TenantBase.metadata.tables) | {VERSION_TABLE} <= tables
    assert differences(created_shape, migrated_shape) == {}


def test_shared_migrations_build_the_same_schema_as_create_all(new_database: NewDatabase) -> None:
    """`public` built by the shared tree equals `public` built by SharedBase.metadata.create_all."""
    migrated = new_database()
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


def test_autogenerate_finds_nothing_to_do_at_either_head(scratch: Database) -> None:
    """Alembic's own comparison of the models with schemas built by both trees reports no difference."""
    migrated = "clinic_compare_migrated"
    with scratch.engine.begin() as conn:
        conn.execute(CreateSchema(migrated))
        upgrade_tenant_schema(conn, migrated, script_directory("tenant"))
    engine = autogenerate_engine(scratch.engine)
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(conn, opts=prepare_environment("shared", conn))
            shared_diff = compare_metadata(context, SharedBase.metadata)
        with engine.begin() as conn:
            options = prepare_environment("tenant", conn, migrated)
            context = MigrationContext.configure(conn, opts=options)
            tenant_diff = compare_metadata(context, TenantBase.metadata)
    finally:
        engine.dispose()
    assert shared_diff == []
    assert tenant_diff == []
