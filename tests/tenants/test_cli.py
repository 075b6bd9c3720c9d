"""`ensemble tenants`: create and list clinics; migrate reports failures with a non-zero exit."""

from __future__ import annotations

import uuid

import pytest
from rich.console import Console
from sqlalchemy import text, update
from typer.testing import CliRunner

from backend.database import Database
from backend.tenants import cli
from backend.tenants.migrations import script_directory, single_head
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant

runner = CliRunner()


def use_database(monkeypatch: pytest.MonkeyPatch, database: Database) -> Database:
    monkeypatch.setattr(cli, "get_database", lambda: database)
    monkeypatch.setattr(cli, "console", Console(width=200))
    return database


@pytest.fixture
def cli_database(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The CLI on the run's database (for commands that leave every clinic at head)."""
    return use_database(monkeypatch, database)


@pytest.fixture
def cli_scratch(scratch: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The CLI on a database of its own (for migrate, which acts on every clinic)."""
    return use_database(monkeypatch, scratch)


def test_create_then_list_shows_the_clinic_at_head(cli_database: Database) -> None:
    """`create` provisions a clinic and `list` shows its slug, status and head revision."""
    head = single_head(script_directory("tenant"))
    slug = f"north-{uuid.uuid4().hex[:8]}"
    created = runner.invoke(cli.tenants_app, ["create", slug, "North Clinic"])
    listed = runner.invoke(cli.tenants_app, ["list"])

    assert created.exit_code == 0, created.output
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if slug in line)
    assert "active" in line and head in line


def test_create_refuses_an_invalid_slug(cli_database: Database) -> None:
    """An invalid slug is refused with exit code 2 and no clinic is created."""
    count = text("SELECT count(*) FROM public.tenants")
    with cli_database.engine.connect() as conn:
        before = conn.scalar(count)
    result = runner.invoke(cli.tenants_app, ["create", "Bad Slug", "Clinic"])
    assert result.exit_code == 2
    with cli_database.engine.connect() as conn:
        assert conn.scalar(count) == before


def test_migrate_exits_non_zero_and_names_the_failed_clinic(cli_scratch: Database) -> None:
    """A clinic whose schema cannot be migrated makes `migrate` exit 1 and list it; the others pass."""
    healthy = provision_tenant(cli_scratch.engine, "healthy", "Healthy")
    broken = provision_tenant(cli_scratch.engine, "broken", "Broken")
    # The registry and the schema's version table both say "never migrated", but the tables exist.
    with cli_scratch.engine.begin() as conn:
        conn.execute(text(f'DELETE FROM "{broken.schema_name}".alembic_version'))
        conn.execute(update(Tenant).where(Tenant.id == broken.id).values(migration_revision=None))

    result = runner.invoke(cli.tenants_app, ["migrate", "--parallel", "2"])

    assert result.exit_code == 1, result.output
    assert "1 already at head" in result.output and "1 failed" in result.output
    assert "broken" in result.output and "DuplicateTable" in result.output
    assert healthy.slug not in result.output.split("Failed clinics")[1]


def test_migrate_exits_zero_when_every_clinic_is_at_head(cli_scratch: Database) -> None:
    """With nothing to do, `migrate` succeeds and reports the clinics as already at head."""
    provision_tenant(cli_scratch.engine, "steady", "Steady")
    result = runner.invoke(cli.tenants_app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "1 already at head" in result.output and "0 failed" in result.output
