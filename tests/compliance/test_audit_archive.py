"""Deleting a clinic keeps its audit log: `tenants delete` archives it (sealed, verified, opened) first."""

from __future__ import annotations

import csv
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import inspect
from typer.testing import CliRunner

from backend.database import Database
from backend.tenants import cli
from backend.tenants.models import Tenant
from tests.compliance.audit_support import write_events

runner = CliRunner()


@pytest.fixture
def tenants_cli(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "get_database", lambda: database)
    monkeypatch.setattr(cli, "console", Console(width=300))


@pytest.mark.usefixtures("tenants_cli")
def test_a_clinic_with_an_audit_log_is_not_deleted_without_an_archive(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Six-year retention: without --audit-archive the command refuses and the clinic stays whole."""
    clinic = make_clinic()
    write_events(database, clinic, 3)
    refused = runner.invoke(cli.tenants_app, ["delete", clinic.slug, "--yes"])
    assert refused.exit_code == 2
    assert "--audit-archive" in refused.output
    assert clinic.schema_name in inspect(database.engine).get_schema_names()


@pytest.mark.usefixtures("tenants_cli")
def test_the_archive_holds_every_event_opened_and_is_readable_by_its_owner_only(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """Pending and sealed events alike land in the archive, in order, with the member each was about;
    then the clinic is crypto-shredded. An existing file is never written over."""
    clinic = make_clinic()
    member = uuid.uuid4()
    write_events(database, clinic, 2, member_id=member, label="first")
    write_events(database, clinic, 3, member_id=member, label="second")
    archive = tmp_path / "audit.csv"
    archive.write_text("kept")
    exists = runner.invoke(cli.tenants_app, ["delete", clinic.slug, "--yes", "--audit-archive", str(archive)])
    assert exists.exit_code == 2 and archive.read_text() == "kept"
    assert clinic.schema_name in inspect(database.engine).get_schema_names()

    archive.unlink()
    result = runner.invoke(cli.tenants_app, ["delete", clinic.slug, "--yes", "--audit-archive", str(archive)])
    assert result.exit_code == 0, result.output
    assert "5 entries, chain verified" in result.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with archive.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["resource_id"] for r in rows] == [f"first-{n}" for n in range(2)] + [
        f"second-{n}" for n in range(3)
    ]
    assert {r["member_id"] for r in rows} == {str(member)}
    assert all(r["readable"] == "true" for r in rows)
    assert clinic.schema_name not in inspect(database.engine).get_schema_names()
