"""`ensemble`: serve the API (with one worker), run a worker, manage clinics, load the demo clinic."""

from __future__ import annotations

import typer

from backend.settings import get_settings

app = typer.Typer(help="Ensemble: group therapy platform", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL contract with SPA and mobile clients")
app.add_typer(schema_app, name="schema")


def _mount_tenants() -> None:
    from backend.tenants.cli import tenants_app

    app.add_typer(tenants_app, name="tenants", help="Create, list, migrate and delete clinics")


def _mount_keys() -> None:
    from backend.compliance.encryption.cli import keys_app

    app.add_typer(keys_app, name="keys", help="Master key and clinic data key rotation")


_mount_tenants()
_mount_keys()


def _mount_audit() -> None:
    from backend.compliance.audit.cli import audit_app

    app.add_typer(audit_app, name="audit", help="Seal pending audit events; verify a clinic's chain")


_mount_audit()


def _migrate_all() -> None:
    from backend.database import get_database
    from backend.tenants.migrations import migrate_shared, migrate_tenants

    db = get_database()
    migrate_shared(db.engine)
    report = migrate_tenants(db.engine)
    if report.failed:
        typer.echo(f"{len(report.failed)} clinic(s) failed to migrate; see `ensemble tenants list`", err=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    worker: bool = typer.Option(
        True, help="Also run a Dramatiq worker (and the outbox drainer) in this process"
    ),
) -> None:
    """Migrate, then serve the GraphQL API (GraphiQL in development) and one worker."""
    import uvicorn

    from backend.app import create_app
    from backend.database import get_database

    settings = get_settings()
    _migrate_all()
    typer.echo(f"Ensemble API on http://{host}:{port}/graphql ({settings.environment})")
    app = create_app(settings, get_database(), with_worker=worker)
    uvicorn.run(app, host=host, port=port, log_level="info")


@app.command()
def worker(
    threads: int = typer.Option(4, help="Worker threads per process"),
    processes: int = typer.Option(
        1, min=1, help="Worker processes: the claim engine is CPU-bound, so use one per core"
    ),
) -> None:
    """Run Dramatiq worker process(es) and the outbox drainer until interrupted."""
    from backend.workers.runner import run_worker

    run_worker(get_settings(), processes=processes, threads=threads)


@app.command()
def demo() -> None:
    """Create (once) a demo clinic with one user per role; print how to sign in."""
    from backend.database import get_database
    from backend.demo import DEMO_PASSWORD, load_demo

    settings = get_settings()
    if settings.production:
        typer.echo("The demo clinic is for development only.", err=True)
        raise typer.Exit(2)
    _migrate_all()
    clinic, emails = load_demo(get_database().engine)
    typer.echo(f"Demo clinic '{clinic}': sign in with any of these, password '{DEMO_PASSWORD}':")
    for email in emails:
        typer.echo(f"  {email}")


@schema_app.command("export")
def export_schema() -> None:
    """Write frontend_contract/schema.graphql from the code."""
    from backend.graphql.contract import write_sdl
    from backend.graphql.schema import build_schema

    typer.echo(f"wrote {write_sdl(build_schema(production=False))}")


@app.command("billing-tick")
def billing_tick() -> None:
    """For every clinic: queue a clearinghouse poll and the eligibility checks now due (the worker
    runs this every ENSEMBLE_BILLING_TICK_SECONDS; this runs it now)."""
    from datetime import date

    from backend.billing.billing_tick import run_billing_tick
    from backend.database import get_database
    from backend.tenants.registry import TenantRegistry

    engine = get_database().engine
    for done in run_billing_tick(engine, TenantRegistry(engine).active(), date.today()):
        if done.checks_due is None:
            typer.echo(f"{done.slug}: failed (see the log)")
        else:
            typer.echo(f"{done.slug}: poll queued, {done.checks_due} eligibility checks due")


if __name__ == "__main__":
    app()
