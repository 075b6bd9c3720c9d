"""Alembic for schema-per-tenant: the `shared` tree (`public`) and the `tenant` tree, which runs
once per clinic schema with that schema's own `alembic_version`.

`migrate_tenants` reads the registry once and skips clinics already at head (django-tenants
#1082: 300 no-op schemas took 15 minutes). Each other clinic is upgraded in ONE transaction
together with its registry row: PostgreSQL DDL is transactional, so a failure leaves nothing
half-done and the clinic is never marked migrated; a re-run resumes with what is left.

Revisions receive `op` as an argument instead of `from alembic import op`: alembic's `op` and
`context` proxies are process globals, and clinics migrate in parallel threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSchema

from backend.tables import SharedBase, TenantBase
from backend.tenants.models import Tenant

Tree = Literal["shared", "tenant"]
ProgressCallback = Callable[[int, int], None]
"""Called with (clinics done, clinics to migrate): once with 0 after the registry read, then per clinic."""

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
SHARED_SCHEMA = "public"
# A scratch schema for autogenerate, created and rolled back in one transaction.
AUTOGEN_SCHEMA = "alembic_autogenerate"
# First key of the two-key advisory lock form, so these locks never meet another feature's.
LOCK_NAMESPACE = 0x454E53
VERSION_TABLE = "alembic_version"

log = logging.getLogger(__name__)


def alembic_config(tree: Tree, *, extra_version_locations: Sequence[Path] = ()) -> Config:
    """An `alembic.ini`-free config for one tree; extra locations add revisions (tests, benchmarks)."""
    location = ALEMBIC_DIR / tree
    config = Config()
    locations = [location / "versions", *extra_version_locations]
    # ConfigParser interpolates `%`; paths are stored escaped.
    config.set_main_option("script_location", str(location).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p).replace("%", "%%") for p in locations))
    return config


def script_directory(tree: Tree, *, extra_version_locations: Sequence[Path] = ()) -> ScriptDirectory:
    """The tree's revisions, loaded once per process unless extra locations are given."""
    if extra_version_locations:
        return ScriptDirectory.from_config(
            alembic_config(tree, extra_version_locations=extra_version_locations)
        )
    return _default_script(tree)


@cache
def _default_script(tree: Tree) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(tree))


def single_head(script: ScriptDirectory) -> str:
    """The one head revision; the registry records a single revision per clinic."""
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration tree must have exactly one head, found {len(heads)}: merge them")
    return heads[0]


def route_to_schema(connection: Connection, schema: str) -> None:
    """Point the connection's current transaction at one clinic schema.

    `schema_translate_map` routes Core DDL (CREATE TABLE/INDEX, foreign keys); alembic renders
    ALTER statements with bare table names, which a transaction-local `search_path` resolves
    (gone at commit, so safe behind a transaction-pooling PgBouncer).
    """
    connection.execution_options(schema_translate_map={None: schema})
    quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
    connection.execute(select(func.set_config("search_path", quoted, True)))


def _upgrade(
    connection: Connection,
    script: ScriptDirectory,
    *,
    version_table_schema: str,
    metadata: MetaData,
    destination: str,
) -> None:
    """What `alembic upgrade` does, on an open transaction and an already-loaded ScriptDirectory."""

    def steps(current: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs(destination, current)

    context = MigrationContext.configure(
        connection=connection,
        opts={
            "script": script,
            "fn": steps,
            "destination_rev": destination,
            "version_table_schema": version_table_schema,
            "target_metadata": metadata,
        },
    )
    context.run_migrations(op=Operations(context))


def upgrade_tenant_schema(
    connection: Connection, schema: str, script: ScriptDirectory, destination: str | None = None
) -> None:
    """Upgrade one clinic schema inside the caller's transaction (head unless `destination`)."""
    route_to_schema(connection, schema)
    target = destination or single_head(script)
    _upgrade(
        connection, script, version_table_schema=schema, metadata=TenantBase.metadata, destination=target
    )


def stamp_tenant_schema(connection: Connection, schema: str, script: ScriptDirectory, revision: str) -> None:
    """Create the schema's own `alembic_version` and record `revision` in it, without running DDL."""
    context = MigrationContext.configure(connection=connection, opts={"version_table_schema": schema})
    context.stamp(script, revision)


def _lock_key(schema: str) -> int:
    """A stable int4 per schema for `pg_advisory_xact_lock(namespace, key)`; a collision only serialises."""
    crc = zlib.crc32(schema.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _advisory_lock(connection: Connection, schema: str) -> None:
    connection.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, _lock_key(schema))))


def migrate_shared(engine: Engine, *, script: ScriptDirectory | None = None) -> str:
    """Bring `public` to the shared tree's head (idempotent; concurrent callers wait on a lock)."""
    script = script or script_directory("shared")
    head = single_head(script)
    with engine.begin() as connection:
        _advisory_lock(connection, SHARED_SCHEMA)
        _upgrade(
            connection,
            script,
            version_table_schema=SHARED_SCHEMA,
            metadata=SharedBase.metadata,
            destination=head,
        )
    return head


@dataclass(frozen=True)
class TenantFailure:
    slug: str
    # Exception class and target revision only: a database message can quote row data.
    error: str


@dataclass
class MigrationReport:
    head: str
    total: int
    skipped: int
    """Clinics the registry showed at head: not touched."""
    migrated: list[str] = field(default_factory=list)
    concurrent: list[str] = field(default_factory=list)
    """Clinics found at head once locked: a concurrent run migrated them."""
    failed: list[TenantFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class _Pending:
    id: UUID
    slug: str
    schema: str


_Outcome = Literal["migrated", "concurrent"] | TenantFailure


def migrate_tenants(
    engine: Engine,
    *,
    parallel: int = 1,
    progress: ProgressCallback | None = None,
    script: ScriptDirectory | None = None,
    lock_timeout_ms: int = 5000,
) -> MigrationReport:
    """Upgrade every clinic not at the tenant head; failures are recorded and the run goes on.

    `parallel` threads each hold one pooled connection (keep it within the pool size). Each
    transaction touches only its own schema and its own registry row, under a per-schema advisory
    lock, so parallel and concurrent runs neither deadlock nor migrate a schema twice.
    `lock_timeout_ms` bounds waits on a clinic's tables, so a long transaction makes that
    clinic fail (and be retried by the next run) instead of stalling its traffic.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    script = script or script_directory("tenant")
    head = single_head(script)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.migration_revision).order_by(
                Tenant.slug
            )
        ).all()
    pending = [_Pending(r.id, r.slug, r.schema_name) for r in rows if r.migration_revision != head]
    report = MigrationReport(head=head, total=len(rows), skipped=len(rows) - len(pending))
    if progress is not None:
        progress(0, len(pending))
    if not pending:
        return report

    work: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
    for tenant in pending:
        work.put(tenant)
    done_lock = threading.Lock()

    def record(tenant: _Pending, outcome: _Outcome) -> None:
        with done_lock:
            if isinstance(outcome, TenantFailure):
                report.failed.append(outcome)
            elif outcome == "migrated":
                report.migrated.append(tenant.slug)
            else:
                report.concurrent.append(tenant.slug)
            if progress is not None:
                done = len(report.failed) + len(report.migrated) + len(report.concurrent)
                progress(done, len(pending))

    def worker() -> None:
        with engine.connect() as connection:
            while True:
                try:
                    tenant = work.get_nowait()
                except queue.Empty:
                    return
                record(tenant, _migrate_one(connection, tenant, script, head, lock_timeout_ms))

    threads = min(parallel, len(pending))
    if threads == 1:
        worker()
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="migrate-tenants") as pool:
            for future in [pool.submit(worker) for _ in range(threads)]:
                future.result()
    report.migrated.sort()
    report.concurrent.sort()
    report.failed.sort(key=lambda f: f.slug)
    return report


def _migrate_one(
    connection: Connection, tenant: _Pending, script: ScriptDirectory, head: str, lock_timeout_ms: int
) -> _Outcome:
    try:
        with connection.begin():
            _advisory_lock(connection, tenant.schema)
            current = connection.scalar(select(Tenant.migration_revision).where(Tenant.id == tenant.id))
            if current == head:
                return "concurrent"
            if lock_timeout_ms > 0:
                connection.execute(select(func.set_config("lock_timeout", f"{lock_timeout_ms}ms", True)))
            upgrade_tenant_schema(connection, tenant.schema, script, head)
            # The registry row last: this transaction never holds it while waiting for DDL locks.
            connection.execute(
                update(Tenant)
                .where(Tenant.id == tenant.id)
                .values(migration_revision=head, migration_error=None)
            )
        return "migrated"
    except Exception as exc:
        error = f"{_error_class(exc)} at {head}"
        log.warning("migration of clinic %s failed: %s", tenant.slug, error)
        _record_failure(connection, tenant, head, error)
        return TenantFailure(tenant.slug, error)


def _error_class(exc: Exception) -> str:
    """The most specific class name, e.g. psycopg's `UniqueViolation` rather than `IntegrityError`."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return type(exc.orig).__name__
    return type(exc).__name__


def _record_failure(connection: Connection, tenant: _Pending, head: str, error: str) -> None:
    """Write `migration_error` in its own transaction, unless a concurrent run has since succeeded."""
    try:
        with connection.begin():
            connection.execute(
                update(Tenant)
                .where(Tenant.id == tenant.id, Tenant.migration_revision.is_distinct_from(head))
                .values(migration_error=error)
            )
    except Exception as exc:  # the run's report still lists the failure
        log.warning("could not record the failure of clinic %s: %s", tenant.slug, _error_class(exc))


def prepare_environment(tree: Tree, connection: Connection, schema: str | None = None) -> dict[str, Any]:
    """Route the connection and return `context.configure` options; used by each tree's env.py.

    Comparisons (autogenerate) need a connection of `autogenerate_engine`: see there.
    """
    if tree == "shared":
        if connection.dialect.default_schema_name == SHARED_SCHEMA:
            raise RuntimeError("compare the shared tree on a connection of autogenerate_engine()")
        return {
            "target_metadata": SharedBase.metadata,
            "version_table_schema": SHARED_SCHEMA,
            "include_schemas": True,
            "include_name": lambda name, type_, _parents: type_ != "schema" or name == SHARED_SCHEMA,
            "compare_server_default": True,
        }
    if schema is None:
        raise ValueError("the tenant tree runs in one schema")
    route_to_schema(connection, schema)
    return {
        "target_metadata": TenantBase.metadata,
        "version_table_schema": schema,
        # Reflected through search_path, the schema's own version table looks like an unknown table.
        "include_name": lambda name, type_, _parents: not (type_ == "table" and name == VERSION_TABLE),
        "compare_server_default": True,
    }


def autogenerate_engine(engine: Engine) -> Engine:
    """A separate engine whose default schema is not `public`, for comparisons with the models.

    Reflected through the default schema, foreign keys and enums in `public` come back without a
    schema and differ from SharedBase's explicit `schema="public"`; with `public` off the default
    search_path it is reflected by name and matches. Tenant comparisons route by search_path.
    """
    return create_engine(
        engine.url, poolclass=NullPool, connect_args={"options": "-c search_path=pg_catalog"}
    )


def autogenerate_revision(engine: Engine, tree: Tree, message: str) -> list[Path]:
    """Write a revision of `tree` from the difference between the models and the tree's head.

    The tenant tree is compared with a scratch schema upgraded to head, the shared tree with
    `public` upgraded to head; both inside a transaction that is rolled back. Review the file.
    """
    config = alembic_config(tree)
    if find_spec("ruff") is not None:
        config.set_section_option("post_write_hooks", "hooks", "ruff")
        config.set_section_option("post_write_hooks", "ruff.type", "module")
        config.set_section_option("post_write_hooks", "ruff.module", "ruff")
        config.set_section_option("post_write_hooks", "ruff.options", "format REVISION_SCRIPT_FILENAME")
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    compare_engine = autogenerate_engine(engine)
    try:
        with compare_engine.connect() as connection, connection.begin() as transaction:
            config.attributes["connection"] = connection
            if tree == "tenant":
                connection.execute(CreateSchema(AUTOGEN_SCHEMA))
                if head is not None:
                    upgrade_tenant_schema(connection, AUTOGEN_SCHEMA, script, head)
                config.attributes["schema"] = AUTOGEN_SCHEMA
            elif head is not None:
                _upgrade(
                    connection,
                    script,
                    version_table_schema=SHARED_SCHEMA,
                    metadata=SharedBase.metadata,
                    destination=head,
                )
            written = command.revision(config, message=message, autogenerate=True)
            transaction.rollback()
    finally:
        compare_engine.dispose()
    scripts = written if isinstance(written, list) else [written]
    return [Path(s.path) for s in scripts if s is not None]
