"""`ensemble tenants ...`: create, list, migrate and delete clinics; write new migration revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from backend.compliance.audit.archive import archive_audit_log, has_audit_log
from backend.database import get_database
from backend.tenants.migrations import Tree, autogenerate_revision, migrate_shared, migrate_tenants
from backend.tenants.models import Tenant
from backend.tenants.provisioning import create_shared_schema, delete_tenant, provision_tenant

tenants_app = typer.Typer(help="Create, list, migrate and delete clinics.", no_args_is_help=True)
console = Console()


@tenants_app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits and dashes")],
    name: Annotated[str, typer.Argument(help="The clinic's display name")],
) -> None:
    """Provision a clinic: registry row and schema at head, in one transaction."""
    engine = get_database().engine
    create_shared_schema(engine)
    try:
        clinic = provision_tenant(engine, slug, name)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"Created {clinic.slug} in schema {clinic.schema_name} at {clinic.migration_revision}")


@tenants_app.command("list")
def list_clinics() -> None:
    """Every clinic with its status and migration revision (and last migration error, if any)."""
    stmt = select(Tenant.slug, Tenant.status, Tenant.migration_revision, Tenant.migration_error)
    with get_database().engine.connect() as conn:
        rows = conn.execute(stmt.order_by(Tenant.slug)).all()
    table = Table("slug", "status", "revision", "migration error")
    for row in rows:
        table.add_row(row.slug, row.status.value, row.migration_revision or "-", row.migration_error or "")
    console.print(table)


@tenants_app.command("migrate")
def migrate(
    parallel: Annotated[
        int, typer.Option(min=1, max=32, help="Clinics migrated at once; keep within the pool size")
    ] = 1,
) -> None:
    """Upgrade `public`, then every clinic not at head; exits 1 if any clinic failed."""
    engine = get_database().engine
    console.print(f"Shared schema at {migrate_shared(engine)}")
    columns = (TextColumn("Migrating clinics"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("migrate", total=None)
        report = migrate_tenants(
            engine,
            parallel=parallel,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"Head {report.head}: {len(report.migrated)} migrated, {report.skipped} already at head, "
        f"{len(report.concurrent)} done by a concurrent run, {len(report.failed)} failed"
    )
    if report.failed:
        failures = Table("slug", "error", title="Failed clinics (re-run to resume)")
        for failure in report.failed:
            failures.add_row(failure.slug, failure.error)
        console.print(failures)
        raise typer.Exit(1)


@tenants_app.command("delete")
def delete(
    slug: Annotated[str, typer.Argument(help="The clinic to delete")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    audit_archive: Annotated[
        Path | None,
        typer.Option(
            "--audit-archive",
            help="Write the clinic's audit log, verified and opened, to this new file first "
            "(required when the clinic has one: keep it six years)",
        ),
    ] = None,
) -> None:
    """Crypto-shred a clinic: destroy its data keys, then drop its schema and registry row."""
    engine = get_database().engine
    with engine.connect() as connection:
        clinic = connection.execute(select(Tenant.id, Tenant.schema_name).where(Tenant.slug == slug)).first()
    if clinic is None:
        console.print("[red]no clinic with this slug[/red]")
        raise typer.Exit(2)
    if audit_archive is None and has_audit_log(engine, clinic.schema_name):
        console.print(
            "[red]the clinic's audit log must be kept six years (HIPAA) and will not open once its keys "
            "are destroyed: pass --audit-archive FILE[/red]"
        )
        raise typer.Exit(2)
    if not yes:
        typer.confirm(f"Delete clinic {slug}? Its data becomes unreadable, backups included", abort=True)
    if audit_archive is not None:
        try:
            archive = archive_audit_log(engine, clinic.schema_name, clinic.id, audit_archive)
        except FileExistsError:
            console.print(f"[red]{audit_archive} exists: the archive is never written over[/red]")
            raise typer.Exit(2) from None
        state = "verified" if archive.verification.ok else f"NOT verified ({archive.verification.problem})"
        console.print(f"Audit log archived: {archive.entries} entries, chain {state}, in {audit_archive}")
    try:
        deleted = delete_tenant(engine, slug)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"Deleted {deleted.slug}: data keys destroyed, schema {deleted.schema_name} dropped")


@tenants_app.command("revision")
def revision(
    tree: Annotated[Tree, typer.Argument(help="shared (public) or tenant (clinic schemas)")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes")],
) -> None:
    """Autogenerate a revision from the models (compared in a rolled-back transaction); review it."""
    for path in autogenerate_revision(get_database().engine, tree, message):
        console.print(f"Wrote {path}")
