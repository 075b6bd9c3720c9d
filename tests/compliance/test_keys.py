"""Master keys, per-clinic data keys and their rotation (backend.compliance.encryption.keys, key_provider)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.compliance.encryption import cli as keys_cli
from backend.compliance.encryption.field_crypto import key_version_of
from backend.compliance.encryption.field_migration import model_columns, reencrypt_clinic
from backend.compliance.encryption.key_models import TenantDataKey
from backend.compliance.encryption.key_provider import (
    EnvironmentKeyProvider,
    MasterKeyConfigError,
    UnknownMasterKey,
    WrongMasterKey,
    development_key_spec,
    use_key_provider,
)
from backend.compliance.encryption.keys import (
    forget_keyrings,
    load_keyring,
    rewrap_data_keys,
    rotate_data_key,
)
from backend.database import Database
from backend.documentation.models import MemberSection, Observation
from backend.settings import load_settings
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_session
from tests.compliance.key_support import NewDatabase, document_session, master_keys, own_database, raw_values

__all__ = ["own_database"]
runner = CliRunner()


def test_master_keys_are_read_from_the_variable_first_one_current() -> None:
    """`ENSEMBLE_MASTER_KEYS` lists id:base64 pairs; the first wraps, the others only unwrap."""
    provider = master_keys("k2", "k1")
    assert provider.key_id == "k2" and provider.key_ids == ("k2", "k1")
    old = master_keys("k1")
    context = b"clinic-and-version"
    wrapped = old.wrap(b"d" * 32, context)
    assert provider.unwrap(wrapped, "k1", context) == b"d" * 32


@pytest.mark.parametrize(
    "spec",
    [
        "k1",
        "k1:not base64!",
        "k1:" + "QUJD",
        "k1:" + "A" * 43 + "=,k1:" + "A" * 43 + "=",
        "bad id:" + "A" * 44,
    ],
)
def test_a_malformed_master_key_setting_is_refused_without_quoting_key_material(spec: str) -> None:
    """No id, bad base64, a key not 32 bytes or a repeated id is refused; the message never quotes keys."""
    with pytest.raises(MasterKeyConfigError) as error:
        EnvironmentKeyProvider.parse(spec)
    assert "QUJD" not in str(error.value) and "AAAA" not in str(error.value)


def test_production_refuses_to_start_without_master_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In production, no `ENSEMBLE_MASTER_KEYS` means no settings (no silent development key)."""
    monkeypatch.setenv("ENSEMBLE_ENV", "production")
    monkeypatch.setenv("ENSEMBLE_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("ENSEMBLE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ENSEMBLE_MASTER_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="ENSEMBLE_MASTER_KEYS"):
        load_settings()
    assert not (tmp_path / "master_key").exists()


def test_the_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    """Development without the variable keeps one random master key in the data folder, owner-only."""
    first = development_key_spec(tmp_path)
    assert development_key_spec(tmp_path) == first
    assert EnvironmentKeyProvider.parse(first).key_id == "dev"
    assert (tmp_path / "master_key").stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["master_key"]


def test_a_wrapped_data_key_opens_only_with_its_master_key_and_context() -> None:
    """A wrapped key moved to another clinic or version, or under another or absent master key, fails."""
    provider = master_keys("k1")
    wrapped = provider.wrap(os.urandom(32), b"clinic-a/1")
    with pytest.raises(WrongMasterKey):
        provider.unwrap(wrapped, "k1", b"clinic-b/1")
    with pytest.raises(WrongMasterKey):
        EnvironmentKeyProvider.parse("k1:" + "B" * 43 + "=").unwrap(wrapped, "k1", b"clinic-a/1")
    with pytest.raises(UnknownMasterKey):
        provider.unwrap(wrapped, "k0", b"clinic-a/1")


def test_provisioning_gives_each_clinic_its_own_wrapped_data_key(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """A new clinic has data key version 1, stored only wrapped; clinics and purposes never share a key."""
    north, south = make_clinic(), make_clinic()
    with Session(database.engine) as session:
        row = session.scalars(select(TenantDataKey).where(TenantDataKey.tenant_id == north.id)).one()
        rings = [load_keyring(session.connection(), north.id), load_keyring(session.connection(), south.id)]
    assert (row.version, row.master_key_id, row.destroyed_at) == (1, "test", None)
    assert row.wrapped_key is not None and len(row.wrapped_key) == 12 + 32 + 16
    assert rings[0].data_keys[1] not in row.wrapped_key, "the data key is never stored in clear"
    assert [r.current_version for r in rings] == [1, 1]
    purposes = ("fields", "audit", "audit-index", "audit-checkpoint")
    keys = {r.key(purpose)[1] for r in rings for purpose in purposes}
    assert len(keys) == 8 and all(len(k) == 32 for k in keys)


def test_master_key_rotation_rewraps_data_keys_and_the_old_master_key_can_then_be_removed(
    own_database: NewDatabase,
) -> None:
    """After `rewrap` under k2, notes written under k1 read back with k2 alone; the data never changed."""
    db = own_database()
    with use_key_provider(master_keys("k1")):
        clinic = provision_tenant(db.engine, f"r-{uuid.uuid4().hex[:8]}", "Rotating")
        documented = document_session(db.engine, clinic.schema_name)
    stored_before = raw_values(db.engine, clinic.schema_name, "member_sections", "content")

    with use_key_provider(master_keys("k2", "k1")) as both, db.engine.begin() as conn:
        report = rewrap_data_keys(conn, both)
    with use_key_provider(master_keys("k2", "k1")) as both, db.engine.begin() as conn:
        again = rewrap_data_keys(conn, both)
    assert (report.rewrapped, report.by_master_key) == (1, {"k2": 1})
    assert again.rewrapped == 0, "a second run has nothing left to do"

    forget_keyrings()
    with use_key_provider(master_keys("k2")), tenant_session(db.engine, clinic.schema_name) as session:
        content = session.scalars(select(MemberSection.content)).one()
    assert content == documented.section
    assert raw_values(db.engine, clinic.schema_name, "member_sections", "content") == stored_before


def test_rewrap_command_reports_master_keys_no_longer_used(
    own_database: NewDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ensemble keys rewrap` re-wraps every clinic's keys and names the old master key as removable."""
    db = own_database()
    monkeypatch.setattr(keys_cli, "get_database", lambda: db)
    monkeypatch.setattr(keys_cli, "console", Console(width=200))
    with use_key_provider(master_keys("k1")):
        for _ in range(3):
            provision_tenant(db.engine, f"r-{uuid.uuid4().hex[:8]}", "Rotating")
    with use_key_provider(master_keys("k2", "k1")):
        result = runner.invoke(keys_cli.keys_app, ["rewrap"])
        status = runner.invoke(keys_cli.keys_app, ["status"])
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 3 data keys under master key k2" in result.output
    assert "may be removed from ENSEMBLE_MASTER_KEYS: k1" in result.output
    assert status.exit_code == 0 and status.output.count(" k2 ") == 3, status.output


def test_data_key_rotation_uses_the_new_version_for_new_writes_and_old_values_still_decrypt(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Old values keep reading after a rotation; new writes carry version 2; re-encryption moves all to 2."""
    clinic = make_clinic()
    documented = document_session(database.engine, clinic.schema_name)
    with database.engine.begin() as conn:
        assert rotate_data_key(conn, clinic.id, activate_in=0) == 2
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.add(
            Observation(
                session_id=documented.group.session_id, staff_id=documented.group.staff["trainee"], text="v2"
            )
        )
    versions = sorted(
        key_version_of(v)
        for v in raw_values(database.engine, clinic.schema_name, "facilitator_observations", "text")
    )
    assert versions == [1, 2]

    def stored_versions() -> list[int]:
        return [
            key_version_of(v)
            for c in model_columns()
            for v in raw_values(database.engine, clinic.schema_name, c.table, c.column)
        ]

    old = stored_versions().count(1)
    assert old >= 6, "group note, section, name flags, observation, addendum, supervision note, member ids"
    assert reencrypt_clinic(database.engine, clinic.id, clinic.schema_name) == (2, old)
    assert set(stored_versions()) == {2}
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(MemberSection.content)).one() == documented.section
        assert sorted(session.scalars(select(Observation.text))) == sorted([documented.observation, "v2"])


def test_a_rotation_activates_later_so_every_process_knows_the_key_before_it_is_used(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """With the default delay the new version is loaded (it decrypts) but writes keep the old one for now."""
    clinic = make_clinic()
    with database.engine.begin() as conn:
        rotate_data_key(conn, clinic.id)
    with database.engine.connect() as conn:
        keyring = load_keyring(conn, clinic.id)
        retired = conn.scalar(
            select(TenantDataKey.retired_at).where(
                TenantDataKey.tenant_id == clinic.id, TenantDataKey.version == 1
            )
        )
    assert keyring.versions == (1, 2) and keyring.current_version == 1
    assert retired is not None


def test_rotate_command_adds_a_version_for_one_clinic_only(
    database: Database, make_clinic: Callable[..., Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ensemble keys rotate --clinic SLUG` adds version 2 to that clinic; an unknown slug exits 2."""
    monkeypatch.setattr(keys_cli, "get_database", lambda: database)
    monkeypatch.setattr(keys_cli, "console", Console(width=200))
    clinic, other = make_clinic(), make_clinic()
    result = runner.invoke(keys_cli.keys_app, ["rotate", "--clinic", clinic.slug, "--activate-in", "0"])
    unknown = runner.invoke(keys_cli.keys_app, ["rotate", "--clinic", "no-such-clinic"])
    assert result.exit_code == 0, result.output
    assert unknown.exit_code == 2
    with database.engine.connect() as conn:
        count = text("SELECT count(*) FROM public.tenant_data_keys WHERE tenant_id = :t")
        assert conn.scalar(count, {"t": clinic.id}) == 2
        assert conn.scalar(count, {"t": other.id}) == 1
        assert load_keyring(conn, clinic.id).current_version == 2
