"""client contact details encrypted: email, phone, street, city, ZIP, emergency contacts

Revision ID: 9b2c3d4e5f07
Revises: 8a1c2d3e4f06
Create Date: 2026-11-30 01:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).

As in 4d9a2e3fbc03: the columns become `bytea` holding each value's UTF-8 bytes, then sealed with
the clinic's data key in the clinic's migration transaction (NULLs stay NULL). Run `VACUUM FULL
clients` afterwards: the old plaintext row versions stay in the table files until then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from backend.compliance.encryption.field_migration import (
    StoredColumn,
    clinic_keyring,
    decrypt_to_plaintext,
    encrypt_plaintext,
    has_values,
)

revision: str = "9b2c3d4e5f07"
down_revision: str | Sequence[str] | None = "8a1c2d3e4f06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
CONTACTS = "'[]'::jsonb"
# (column as stored, its type before this revision, nullable)
COLUMNS: list[tuple[StoredColumn, sa.types.TypeEngine[object], bool]] = [
    (StoredColumn("clients", ("id",), "email", json=False), sa.String(length=320), True),
    (StoredColumn("clients", ("id",), "phone", json=False), sa.String(length=32), True),
    (StoredColumn("clients", ("id",), "address_line1", json=False), sa.String(length=55), True),
    (StoredColumn("clients", ("id",), "city", json=False), sa.String(length=30), True),
    (StoredColumn("clients", ("id",), "postal_code", json=False), sa.String(length=9), True),
    (StoredColumn("clients", ("id",), "emergency_contacts", json=True), JSONB, False),
]


def _schema(op: Operations) -> str:
    return str(op.get_bind().scalar(sa.select(sa.func.current_schema())))


def upgrade(op: Operations) -> None:
    op.alter_column("clients", "emergency_contacts", server_default=None, existing_type=JSONB)
    for stored, before, nullable in COLUMNS:
        op.alter_column(
            stored.table,
            stored.column,
            existing_type=before,
            type_=sa.LargeBinary(),
            existing_nullable=nullable,
            postgresql_using=f"convert_to(\"{stored.column}\"::text, 'UTF8')",
        )
    connection = op.get_bind()
    columns = [stored for stored, _, _ in COLUMNS]
    keyring = clinic_keyring(connection, _schema(op), create=True)
    if keyring is None:
        if has_values(connection, columns):
            raise RuntimeError("a schema with no registered clinic holds values to encrypt")
        return
    for stored in columns:
        encrypt_plaintext(connection, keyring, stored)


def downgrade(op: Operations) -> None:
    connection = op.get_bind()
    columns = [stored for stored, _, _ in COLUMNS]
    keyring = clinic_keyring(connection, _schema(op), create=False)
    if keyring is not None:
        for stored in columns:
            decrypt_to_plaintext(connection, keyring, stored)
    elif has_values(connection, columns):
        raise RuntimeError("a schema with no registered clinic holds values to decrypt")
    for stored, before, nullable in COLUMNS:
        cast = "::jsonb" if isinstance(before, postgresql.JSONB) else ""
        op.alter_column(
            stored.table,
            stored.column,
            existing_type=sa.LargeBinary(),
            type_=before,
            existing_nullable=nullable,
            postgresql_using=f"convert_from(\"{stored.column}\", 'UTF8'){cast}",
        )
    op.alter_column("clients", "emergency_contacts", server_default=sa.text(CONTACTS), existing_type=JSONB)
