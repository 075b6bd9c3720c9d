"""Provisioning: a clinic's schema is complete and at the tenant head, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.schema import CreateSchema

from backend.database import Database
from backend.tables import TenantBase
from backend.tenants.migrations import script_directory, single_head
from backend.tenants.models import Tenant
from backend.tenants.provisioning import create_shared_schema, provision_tenant
from backend.tenants.routing import schema_for


def test_provisioned_clinic_schema_and_registry_are_at_head(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A new clinic has every tenant table, its own alembic_version at head, and the registry says head."""
    clinic = make_clinic()
    head = single_head(script_directory("tenant"))
    with database.engine.connect() as conn:
        tables = set(
            conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": clinic.schema_name}
            )
        )
        version = conn.scalars(text(f'SELECT version_num FROM "{clinic.schema_name}".alembic_version')).all()
        row = conn.execute(
            select(Tenant.migration_revision, Tenant.migration_error).where(Tenant.id == clinic.id)
        ).one()
    assert tables == set(TenantBase.metadata.tables) | {"alembic_version"}
    assert version == [head]
    assert tuple(row) == (head, None)


def test_shared_schema_upgrade_is_idempotent(database: Database) -> None:
    """Running the shared tree again on a database at head changes nothing and keeps one version row."""
    head = single_head(script_directory("shared"))
    assert create_shared_schema(database.engine) == head
    assert create_shared_schema(database.engine) == head
    with database.engine.connect() as conn:
        assert conn.scalars(text("SELECT version_num FROM public.alembic_version")).all() == [head]


def test_failed_provisioning_leaves_no_registry_row(database: Database) -> None:
    """If the schema cannot be created, the registry row rolls back with it."""
    slug = f"taken-{uuid.uuid4().hex[:8]}"
    with database.engine.begin() as conn:
        conn.execute(CreateSchema(schema_for(slug)))
    with pytest.raises(ProgrammingError):
        provision_tenant(database.engine, slug, "Clinic")
    with database.engine.connect() as conn:
        assert conn.scalar(select(Tenant.id).where(Tenant.slug == slug)) is None


def test_duplicate_and_reserved_slugs_are_refused(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A slug already in use, or the one that maps to the template schema, is refused."""
    clinic = make_clinic()
    with pytest.raises(ValueError, match="exists"):
        provision_tenant(database.engine, clinic.slug, "Again")
    with pytest.raises(ValueError, match="reserved"):
        provision_tenant(database.engine, "template", "Template")
