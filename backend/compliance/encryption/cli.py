"""`ensemble keys ...`: master key rotation (re-wrap), clinic data key rotation, re-encryption, status.

Master key rotation, without downtime:
1. `ensemble keys generate k2` prints a new entry; put it FIRST in `ENSEMBLE_MASTER_KEYS`, keep the
   old one after it ("k2:...,k1:..."), and restart every process (new wraps use k2, k1 still unwraps).
2. `ensemble keys rewrap` re-wraps every data key under k2 (data is untouched) and shows which
   master keys still wrap something.
3. When k1 wraps nothing, remove it from `ENSEMBLE_MASTER_KEYS` and restart.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from backend.compliance.encryption.field_migration import reencrypt_clinic
from backend.compliance.encryption.key_models import TenantDataKey
from backend.compliance.encryption.key_provider import get_key_provider, new_master_key_spec
from backend.compliance.encryption.keys import ROTATION_ACTIVATION_SECONDS, rewrap_data_keys, rotate_data_key
from backend.database import get_database
from backend.tenants.models import Tenant

keys_app = typer.Typer(help="Master key and clinic data key rotation.", no_args_is_help=True)
console = Console()


def _clinic(slug: str) -> Tenant:
    with Session(get_database().engine, expire_on_commit=False) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        console.print("[red]no clinic with this slug[/red]")
        raise typer.Exit(2)
    return tenant


@keys_app.command("generate")
def generate(key_id: Annotated[str, typer.Argument(help="An id for the new master key, e.g. k2")]) -> None:
    """Print a new master key entry "id:<base64>" for ENSEMBLE_MASTER_KEYS (nothing is stored)."""
    typer.echo(new_master_key_spec(key_id))


@keys_app.command("rewrap")
def rewrap() -> None:
    """Re-wrap every clinic's data keys under the current (first) master key; data is unchanged."""
    provider = get_key_provider()
    with get_database().engine.begin() as connection:
        report = rewrap_data_keys(connection, provider)
    console.print(f"Re-wrapped {report.rewrapped} data keys under master key {provider.key_id}")
    table = Table("master key", "data keys it wraps")
    for key_id, count in sorted(report.by_master_key.items()):
        table.add_row(key_id, str(count))
    console.print(table)
    unused = [k for k in getattr(provider, "key_ids", ()) if k not in report.by_master_key]
    if unused:
        console.print(f"No longer used, may be removed from ENSEMBLE_MASTER_KEYS: {', '.join(unused)}")


@keys_app.command("rotate")
def rotate(
    clinic: Annotated[str, typer.Option("--clinic", help="The clinic's slug")],
    activate_in: Annotated[
        float,
        typer.Option(min=0, help="Seconds before new writes use it (every process reloads keys first)"),
    ] = ROTATION_ACTIVATION_SECONDS,
) -> None:
    """Add a new data key version for one clinic; older versions keep decrypting."""
    tenant = _clinic(clinic)
    with get_database().engine.begin() as connection:
        version = rotate_data_key(connection, tenant.id, activate_in=activate_in)
    console.print(
        f"{tenant.slug}: data key version {version} added, used for new writes in {activate_in:g} s; "
        "run `ensemble keys reencrypt` after that to re-seal older values"
    )


@keys_app.command("reencrypt")
def reencrypt(clinic: Annotated[str, typer.Option("--clinic", help="The clinic's slug")]) -> None:
    """Re-seal a clinic's encrypted values written under older data key versions (beside live traffic)."""
    tenant = _clinic(clinic)
    version, count = reencrypt_clinic(get_database().engine, tenant.id, tenant.schema_name)
    console.print(f"{tenant.slug}: {count} values re-sealed under data key version {version}")


@keys_app.command("status")
def status() -> None:
    """Per clinic: data key versions, the newest, the master keys wrapping them."""
    k = TenantDataKey
    stmt = (
        select(
            Tenant.slug,
            func.count(k.version).filter(k.destroyed_at.is_(None)),
            func.max(k.version),
            func.string_agg(distinct(k.master_key_id), ","),
        )
        .join(k, k.tenant_id == Tenant.id, isouter=True)
        .group_by(Tenant.slug)
        .order_by(Tenant.slug)
    )
    with get_database().engine.connect() as connection:
        rows = connection.execute(stmt).all()
    table = Table("clinic", "live versions", "newest", "master keys")
    for slug, live, newest, masters in rows:
        table.add_row(slug, str(live), str(newest or "-"), masters or "-")
    console.print(table)
