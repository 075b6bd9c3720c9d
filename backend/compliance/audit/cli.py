"""`ensemble audit ...`: seal pending audit events and verify a clinic's sealed chain."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Row, select

from backend.compliance.audit.sealing import seal_clinic, verify_clinic
from backend.compliance.encryption.keys import KeysDestroyed
from backend.database import get_database
from backend.tenants.models import Tenant, TenantStatus

audit_app = typer.Typer(help="Seal and verify the audit log.", no_args_is_help=True)
console = Console()


def _clinics(slug: str | None) -> list[Row[uuid.UUID, str, str]]:
    """(id, slug, schema_name) of one clinic by slug, or of every active clinic."""
    stmt = select(Tenant.id, Tenant.slug, Tenant.schema_name).order_by(Tenant.slug)
    if slug is None:
        stmt = stmt.where(Tenant.status == TenantStatus.ACTIVE)
    else:
        stmt = stmt.where(Tenant.slug == slug)
    with get_database().engine.connect() as connection:
        return list(connection.execute(stmt).all())


@audit_app.command("seal")
def seal(
    clinic: Annotated[
        str | None, typer.Option(help="One clinic's slug (default: every active clinic)")
    ] = None,
) -> None:
    """Seal every pending audit event now (the worker does this continuously)."""
    engine = get_database().engine
    clinics = _clinics(clinic)
    if clinic is not None and not clinics:
        console.print(f"[red]No clinic {clinic!r}[/red]")
        raise typer.Exit(2)
    failed = 0
    for tenant in clinics:
        try:
            result = seal_clinic(engine, tenant.schema_name, tenant.id)
        except KeysDestroyed:
            console.print(f"{tenant.slug}: keys destroyed, nothing can be sealed")
            failed += 1
            continue
        console.print(f"{tenant.slug}: sealed {result.sealed} events, chain head at {result.head_seq}")
    if failed:
        raise typer.Exit(1)


@audit_app.command("verify")
def verify(clinic: Annotated[str, typer.Option(help="The clinic's slug")]) -> None:
    """Recompute a clinic's chain and checkpoints; exits 1 naming the first bad position."""
    clinics = _clinics(clinic)
    if not clinics:
        console.print(f"[red]No clinic {clinic!r}[/red]")
        raise typer.Exit(2)
    tenant = clinics[0]
    try:
        result = verify_clinic(get_database().engine, tenant.schema_name, tenant.id)
    except KeysDestroyed:
        console.print(f"[red]{tenant.slug}: keys destroyed, the chain cannot be opened[/red]")
        raise typer.Exit(1) from None
    if result.problem is None:
        console.print(
            f"{tenant.slug}: OK, {result.entries_checked} entries and "
            f"{result.checkpoints_checked} checkpoints verified"
        )
        return
    problem = result.problem
    console.print(
        f"[red]{tenant.slug}: {problem.kind.value} at position {problem.position}: {problem.detail}[/red]"
    )
    raise typer.Exit(1)
