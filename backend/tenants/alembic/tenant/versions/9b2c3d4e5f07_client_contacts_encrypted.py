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
    PlainColumn,
    StoredColumn,
    seal_columns,
    unseal_columns,
)

revision: str = "9b2c3d4e5f07"
down_revision: str | Sequence[str] | None = "8a1c2d3e4f06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def _client(column: str, before: sa.types.TypeEngine[object], nullable: bool = True) -> PlainColumn:
    return PlainColumn(
        StoredColumn("clients", ("id",), column, json=isinstance(before, postgresql.JSONB)), before, nullable
    )


COLUMNS = [
    _client("email", sa.String(length=320)),
    _client("phone", sa.String(length=32)),
    _client("address_line1", sa.String(length=55)),
    _client("city", sa.String(length=30)),
    _client("postal_code", sa.String(length=9)),
    _client("emergency_contacts", JSONB, nullable=False),
]


def upgrade(op: Operations) -> None:
    op.alter_column("clients", "emergency_contacts", server_default=None, existing_type=JSONB)
    seal_columns(op, COLUMNS)


def downgrade(op: Operations) -> None:
    unseal_columns(op, COLUMNS)
    op.alter_column(
        "clients", "emergency_contacts", server_default=sa.text("'[]'::jsonb"), existing_type=JSONB
    )
