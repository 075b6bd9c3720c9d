"""notifications encrypted (recipient, body); a delivered notification keeps no body

Revision ID: a0c1d2e3f408
Revises: 9b2c3d4e5f07
Create Date: 2026-11-30 03:20:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).

The recipient is a client's email or phone (PHI, encrypted in `clients` since 9b2c3d4e5f07) and the
body of an invitation holds its one-time code. Bodies of delivered notifications are dropped, the
rest sealed as in 9b2c3d4e5f07. Run `VACUUM FULL notifications` afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

from backend.compliance.encryption.field_migration import (
    PlainColumn,
    StoredColumn,
    seal_columns,
    unseal_columns,
)

revision: str = "a0c1d2e3f408"
down_revision: str | Sequence[str] | None = "9b2c3d4e5f07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    PlainColumn(StoredColumn("notifications", ("id",), "recipient", json=False), sa.String(length=320)),
    PlainColumn(StoredColumn("notifications", ("id",), "body", json=False), sa.Text(), nullable=True),
]


def upgrade(op: Operations) -> None:
    op.alter_column("notifications", "body", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE notifications SET body = NULL WHERE delivered_at IS NOT NULL")
    seal_columns(op, COLUMNS)


def downgrade(op: Operations) -> None:
    unseal_columns(op, COLUMNS)
    op.execute("UPDATE notifications SET body = '' WHERE body IS NULL")
    op.alter_column("notifications", "body", existing_type=sa.Text(), nullable=False)
