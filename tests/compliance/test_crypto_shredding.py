"""Deleting a clinic destroys its data keys first: any copy of its encrypted data becomes unreadable."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from rich.console import Console
from sqlalchemy import func, inspect, select, text
from typer.testing import CliRunner

from backend.clients.models import Client
from backend.compliance.encryption.field_crypto import decrypt_field
from backend.compliance.encryption.keys import (
    Keyring,
    KeysDestroyed,
    destroy_data_keys,
    ensure_data_key,
    load_keyring,
    rotate_data_key,
)
from backend.database import Database
from backend.documentation.models import MemberSection
from backend.tenants import cli
from backend.tenants.models import Tenant
from backend.tenants.provisioning import delete_tenant
from backend.tenants.routing import tenant_session
from tests.compliance.key_support import document_session, raw_values

runner = CliRunner()


def test_deleting_a_clinic_shreds_its_keys_then_drops_its_schema_and_registry_row(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """After deletion a saved copy of a note (a backup) cannot be decrypted: every data key is destroyed."""
    clinic = make_clinic()
    document_session(database.engine, clinic.schema_name)
    with database.engine.begin() as conn:
        rotate_data_key(conn, clinic.id, activate_in=0)
        keyring_before = load_keyring(conn, clinic.id)
    backup = raw_values(database.engine, clinic.schema_name, "member_sections", "content")[0]
    assert decrypt_field(keyring_before, "member_sections.content", backup)  # readable while keys exist

    delete_tenant(database.engine, clinic.slug)

    with database.engine.connect() as conn:
        keys = conn.execute(
            text(
                "SELECT version, wrapped_key, master_key_id, destroyed_at FROM public.tenant_data_keys"
                " WHERE tenant_id = :t ORDER BY version"
            ),
            {"t": clinic.id},
        ).all()
        registered = conn.scalar(select(func.count()).select_from(Tenant).where(Tenant.id == clinic.id))
        with pytest.raises(KeysDestroyed):
            load_keyring(conn, clinic.id)
    assert [(k.version, k.wrapped_key, k.master_key_id) for k in keys] == [(1, None, None), (2, None, None)]
    assert all(k.destroyed_at is not None for k in keys), "tombstones record when the keys were destroyed"
    assert registered == 0
    assert clinic.schema_name not in inspect(database.engine).get_schema_names()


def test_destroyed_keys_make_notes_unreadable_even_before_the_schema_is_dropped(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Between shredding and dropping, encrypted columns raise KeysDestroyed; other columns still read."""
    clinic = make_clinic()
    documented = document_session(database.engine, clinic.schema_name)
    with database.engine.begin() as conn:
        assert destroy_data_keys(conn, clinic.id) == 1
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Client)) == len(documented.group.members)
        with pytest.raises(KeysDestroyed):
            session.scalars(select(MemberSection.content)).all()
    with database.engine.begin() as conn, pytest.raises(KeysDestroyed):
        ensure_data_key(conn, clinic.id)  # a shredded clinic never gets keys again


def test_a_destroyed_keyring_cannot_be_rebuilt_from_a_stale_copy(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Only the database held the wrapped keys: without them, a ciphertext is noise to any other keyring."""
    clinic, other = make_clinic(), make_clinic()
    document_session(database.engine, clinic.schema_name)
    backup = raw_values(database.engine, clinic.schema_name, "member_sections", "content")[0]
    delete_tenant(database.engine, clinic.slug)
    with database.engine.connect() as conn:
        stranger: Keyring = load_keyring(conn, other.id)
    with pytest.raises(ValueError, match="does not authenticate"):
        decrypt_field(stranger, "member_sections.content", backup)


def test_tenants_delete_command_crypto_shreds_the_clinic(
    database: Database, make_clinic: Callable[..., Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ensemble tenants delete SLUG --yes` destroys the keys, drops the clinic; an unknown slug exits 2."""
    monkeypatch.setattr(cli, "get_database", lambda: database)
    monkeypatch.setattr(cli, "console", Console(width=200))
    clinic = make_clinic()
    document_session(database.engine, clinic.schema_name)
    refused = runner.invoke(cli.tenants_app, ["delete", clinic.slug], input="n\n")
    assert refused.exit_code == 1 and clinic.schema_name in inspect(database.engine).get_schema_names()

    result = runner.invoke(cli.tenants_app, ["delete", clinic.slug, "--yes"])
    unknown = runner.invoke(cli.tenants_app, ["delete", f"gone-{uuid.uuid4().hex[:6]}", "--yes"])
    assert result.exit_code == 0, result.output
    assert "data keys destroyed" in result.output
    assert unknown.exit_code == 2
    with database.engine.connect() as conn, pytest.raises(KeysDestroyed):
        load_keyring(conn, clinic.id)
