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
    PlainColumn,
    StoredColumn,
    seal_columns,
    unseal_columns,
)

revision: str = "4d9a2e3fbc03"
down_revision: str | Sequence[str] | None = "3c8f1d2eab02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())
COLUMNS = [
    PlainColumn(StoredColumn("session_records", ("session_id",), "group_note", json=True), JSONB),
    PlainColumn(StoredColumn("member_sections", ("session_id", "client_id"), "content", json=True), JSONB),
    PlainColumn(StoredColumn("member_sections", ("session_id", "client_id"), "name_flags", json=True), JSONB),
    PlainColumn(StoredColumn("facilitator_observations", ("id",), "text", json=False), sa.Text()),
    PlainColumn(StoredColumn("record_addenda", ("id",), "text", json=False), sa.Text()),
    PlainColumn(StoredColumn("supervision_notes", ("id",), "text", json=False), sa.Text()),
    PlainColumn(StoredColumn("client_coverages", ("id",), "member_id", json=False), sa.String(length=80)),
    PlainColumn(StoredColumn("claims", ("id",), "document", json=True), JSONB),
]


def upgrade(op: Operations) -> None:
    seal_columns(op, COLUMNS)


def downgrade(op: Operations) -> None:
    unseal_columns(op, COLUMNS)
