"""Fixtures: throwaway databases (tests that move clinics off the shipped head must not share one)
and test-only tenant revisions written to a temporary version location."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from backend.database import Database, connect
from backend.tenants.migrations import script_directory, single_head
from backend.tenants.models import Tenant
from backend.tenants.provisioning import create_shared_schema, provision_tenant

NewDatabase = Callable[..., Database]


@pytest.fixture(scope="session")
def admin_engine(database: Database) -> Iterator[Engine]:
    """An autocommit engine on the run's server, for CREATE/DROP DATABASE."""
    admin = create_engine(make_url(database.url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield admin
    admin.dispose()


@pytest.fixture
def new_database(admin_engine: Engine) -> Iterator[NewDatabase]:
    """Create databases on the test server (shared schema at head unless `shared=False`), dropped after."""
    server = admin_engine.url
    admin = admin_engine
    created: list[tuple[str, Database]] = []

    def make(*, shared: bool = True) -> Database:
        name = f"ensemble_tenants_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = connect(server.set(database=name).render_as_string(hide_password=False), pool_size=10)
        created.append((name, db))
        if shared:
            create_shared_schema(db.engine)
        return db

    try:
        yield make
    finally:
        for name, db in created:
            db.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def scratch(new_database: NewDatabase) -> Database:
    """A database of its own, shared schema at head, no clinics."""
    return new_database()


def provision_many(database: Database, count: int) -> list[Tenant]:
    return [provision_tenant(database.engine, f"c-{uuid.uuid4().hex[:12]}", "Clinic") for _ in range(count)]


def write_revision(directory: Path, revision: str, down_revision: str, upgrade: str) -> None:
    """A tenant revision file; `upgrade` is the body of `upgrade(op)`."""
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    source = (
        f'"""Test-only revision {revision}."""\n\n'
        "import sqlalchemy as sa\n\n"
        f"revision = {revision!r}\ndown_revision = {down_revision!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade(op):\n{body}\n\n\ndef downgrade(op):\n    pass\n"
    )
    (directory / f"{revision}.py").write_text(source)


@pytest.fixture
def extra_tenant_revision(tmp_path: Path) -> Callable[[str], ScriptDirectory]:
    """Add one revision on top of the shipped tenant head and return the extended tree."""

    def add(upgrade: str) -> ScriptDirectory:
        write_revision(tmp_path, "extra_0001", single_head(script_directory("tenant")), upgrade)
        return script_directory("tenant", extra_version_locations=[tmp_path])

    return add
