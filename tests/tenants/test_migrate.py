"""Migrate-all: skips clinics at head, applies new revisions everywhere, isolates and resumes failures,
and stays correct with parallel threads and with two runs at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, select, text

from backend.database import Database
from backend.tenants.migrations import MigrationReport, migrate_tenants, script_directory, single_head
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.tenants.conftest import provision_many

ADD_NICKNAME = 'op.add_column("clients", sa.Column("nickname", sa.String(40), nullable=True))'


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def registry(database: Database) -> dict[str, tuple[str | None, str | None]]:
    with database.engine.connect() as conn:
        rows = conn.execute(select(Tenant.slug, Tenant.migration_revision, Tenant.migration_error)).all()
    return {r.slug: (r.migration_revision, r.migration_error) for r in rows}


def schema_versions(database: Database, clinics: list[Tenant]) -> dict[str, list[str]]:
    with database.engine.connect() as conn:
        return {
            c.slug: list(conn.scalars(text(f'SELECT version_num FROM "{c.schema_name}".alembic_version')))
            for c in clinics
        }


def has_column(database: Database, clinic: Tenant, table: str, column: str) -> bool:
    with database.engine.connect() as conn:
        found = conn.scalar(
            text(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_schema = :s AND table_name = :t AND column_name = :c"
            ),
            {"s": clinic.schema_name, "t": table, "c": column},
        )
    return bool(found == 1)


def test_migrate_all_skips_clinics_at_head_with_one_query(scratch: Database) -> None:
    """With every clinic at head, a run issues only the registry read: no DDL, no per-clinic query."""
    clinics = provision_many(scratch, 12)
    before = schema_versions(scratch, clinics)
    with recorded_statements(scratch.engine) as statements:
        report = migrate_tenants(scratch.engine)

    assert len(statements) == 1 and "FROM public.tenants" in statements[0]
    assert (report.total, report.skipped, report.migrated, report.failed) == (12, 12, [], [])
    assert schema_versions(scratch, clinics) == before


def test_new_revision_reaches_every_clinic_and_then_nothing_is_left(
    scratch: Database, extra_tenant_revision: Callable[[str], ScriptDirectory]
) -> None:
    """A new tenant revision reaches every clinic schema and the registry; a second run has nothing to do."""
    clinics = provision_many(scratch, 5)
    script = extra_tenant_revision(ADD_NICKNAME)
    head = single_head(script)

    report = migrate_tenants(scratch.engine, script=script)

    assert report.ok and report.migrated == sorted(c.slug for c in clinics)
    assert all(has_column(scratch, c, "clients", "nickname") for c in clinics)
    assert schema_versions(scratch, clinics) == {c.slug: [head] for c in clinics}
    assert registry(scratch) == {c.slug: (head, None) for c in clinics}
    again = migrate_tenants(scratch.engine, script=script)
    assert (again.skipped, again.migrated) == (5, [])


def test_failed_clinic_rolls_back_stays_unmarked_and_the_rerun_resumes(
    scratch: Database,
    extra_tenant_revision: Callable[[str], ScriptDirectory],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A clinic whose data breaks the DDL keeps none of it, records only class and revision, and resumes."""
    clinics = provision_many(scratch, 3)
    broken = clinics[1]
    secret = "Duplicate-Surname"  # a value of the row the failure is about: never in logs
    with tenant_session(scratch.engine, broken.schema_name) as session:
        for first in ("Ana", "Bea"):
            session.execute(
                text(
                    f'INSERT INTO "{broken.schema_name}".clients'
                    " (id, first_name, last_name, date_of_birth, emergency_contacts, created_at)"
                    " VALUES (gen_random_uuid(), :f, :secret, '1990-01-01', '', now())"
                ),
                {"f": first, "secret": secret},
            )
    script = extra_tenant_revision(
        ADD_NICKNAME + '\nop.create_index("uq_clients_last_name", "clients", ["last_name"], unique=True)'
    )
    old_head, head = single_head(script_directory("tenant")), single_head(script)

    with caplog.at_level(logging.INFO):
        report = migrate_tenants(scratch.engine, script=script)

    error = f"UniqueViolation at {head}"
    assert [(f.slug, f.error) for f in report.failed] == [(broken.slug, error)]
    assert report.migrated == sorted(c.slug for c in clinics if c is not broken)
    assert registry(scratch)[broken.slug] == (old_head, error)
    assert schema_versions(scratch, [broken]) == {broken.slug: [old_head]}
    # The column added before the failing index rolled back with it.
    assert not has_column(scratch, broken, "clients", "nickname")
    assert secret not in caplog.text and secret not in repr(report)

    with scratch.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM \"{broken.schema_name}\".clients WHERE first_name = 'Bea'"))
    rerun = migrate_tenants(scratch.engine, script=script)

    assert (rerun.skipped, rerun.migrated, rerun.failed) == (2, [broken.slug], [])
    assert registry(scratch)[broken.slug] == (head, None)
    assert has_column(scratch, broken, "clients", "nickname")


def test_parallel_run_migrates_every_clinic_without_deadlock(
    scratch: Database, extra_tenant_revision: Callable[[str], ScriptDirectory]
) -> None:
    """Four threads over twenty clinics give the same result as one thread, with no failure."""
    clinics = provision_many(scratch, 20)
    script = extra_tenant_revision(ADD_NICKNAME)
    head = single_head(script)
    progress: list[tuple[int, int]] = []

    report = migrate_tenants(
        scratch.engine, script=script, parallel=4, progress=lambda d, t: progress.append((d, t))
    )

    assert report.ok and report.migrated == sorted(c.slug for c in clinics)
    assert registry(scratch) == {c.slug: (head, None) for c in clinics}
    assert all(has_column(scratch, c, "clients", "nickname") for c in clinics)
    assert progress == [(n, 20) for n in range(21)]


def test_concurrent_runs_migrate_each_clinic_exactly_once(
    scratch: Database, extra_tenant_revision: Callable[[str], ScriptDirectory]
) -> None:
    """Two runs started together both see every clinic pending; the schema lock lets one migrate each."""
    clinics = provision_many(scratch, 10)
    script = extra_tenant_revision(ADD_NICKNAME)
    both_read_registry = threading.Barrier(2, timeout=30)
    reports: list[MigrationReport] = []

    def run() -> None:
        def wait_for_the_other(done: int, _total: int) -> None:
            if done == 0:
                both_read_registry.wait()

        reports.append(
            migrate_tenants(scratch.engine, script=script, parallel=2, progress=wait_for_the_other)
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(reports) == 2 and all(r.ok and r.skipped == 0 for r in reports)
    first, second = (set(r.migrated) for r in reports)
    assert first.isdisjoint(second)
    assert first | second == {c.slug for c in clinics}
    # Each clinic was pending for both runs: the one that did not migrate it found it done.
    assert sorted([*reports[0].concurrent, *reports[1].concurrent]) == sorted(c.slug for c in clinics)
