"""field encryption: note text, risk assessments and member identifiers

Revision ID: 4d9a2e3fbc03
Revises: 3c8f1d2eab02
Create Date: 2026-11-29 19:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).

The columns become `bytea`: each value is first kept as its UTF-8 bytes, then sealed with the
clinic's data key (created here for a clinic that has none; the shared revision 6fbc4051de05 made
the table), all in the clinic's migration transaction. A schema with no registered clinic (a
scratch schema) may only be converted while these columns are empty.

Plaintext left behind: the updated rows' old versions stay in the table files until VACUUM (run
`VACUUM FULL` on these tables after migrating) and in WAL and earlier backups until they expire.
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

revision: str = "4d9a2e3fbc03"
down_revision: str | Sequence[str] | None = "3c8f1d2eab02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
# (column as stored, its type before this revision)
COLUMNS: list[tuple[StoredColumn, sa.types.TypeEngine[object]]] = [
    (StoredColumn("session_records", ("session_id",), "group_note", json=True), JSONB),
    (StoredColumn("member_sections", ("session_id", "client_id"), "content", json=True), JSONB),
    (StoredColumn("member_sections", ("session_id", "client_id"), "name_flags", json=True), JSONB),
    (StoredColumn("facilitator_observations", ("id",), "text", json=False), sa.Text()),
    (StoredColumn("record_addenda", ("id",), "text", json=False), sa.Text()),
    (StoredColumn("supervision_notes", ("id",), "text", json=False), sa.Text()),
    (StoredColumn("client_coverages", ("id",), "member_id", json=False), sa.String(length=80)),
    (StoredColumn("claims", ("id",), "document", json=True), JSONB),
]


def _schema(op: Operations) -> str:
    return str(op.get_bind().scalar(sa.select(sa.func.current_schema())))


def upgrade(op: Operations) -> None:
    for stored, before in COLUMNS:
        op.alter_column(
            stored.table,
            stored.column,
            existing_type=before,
            type_=sa.LargeBinary(),
            existing_nullable=False,
            postgresql_using=f"convert_to(\"{stored.column}\"::text, 'UTF8')",
        )
    connection = op.get_bind()
    columns = [stored for stored, _ in COLUMNS]
    keyring = clinic_keyring(connection, _schema(op), create=True)
    if keyring is None:
        if has_values(connection, columns):
            raise RuntimeError("a schema with no registered clinic holds values to encrypt")
        return
    for stored in columns:
        encrypt_plaintext(connection, keyring, stored)


def downgrade(op: Operations) -> None:
    connection = op.get_bind()
    columns = [stored for stored, _ in COLUMNS]
    keyring = clinic_keyring(connection, _schema(op), create=False)
    if keyring is not None:
        for stored in columns:
            decrypt_to_plaintext(connection, keyring, stored)
    elif has_values(connection, columns):
        raise RuntimeError("a schema with no registered clinic holds values to decrypt")
    for stored, before in COLUMNS:
        cast = "::jsonb" if isinstance(before, postgresql.JSONB) else ""
        op.alter_column(
            stored.table,
            stored.column,
            existing_type=sa.LargeBinary(),
            type_=before,
            existing_nullable=False,
            postgresql_using=f"convert_from(\"{stored.column}\", 'UTF8'){cast}",
        )
