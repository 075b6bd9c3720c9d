"""tenant data keys wrapped by the master key

Revision ID: 6fbc4051de05
Revises: 8ade5da9a39f
Create Date: 2026-11-29 19:40:00

Shared tree: the `public` schema. `op` is passed in (same convention as the tenant tree).
Existing clinics get their first data key from the tenant revision 4d9a2e3fbc03 (field encryption).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "6fbc4051de05"
down_revision: str | Sequence[str] | None = "8ade5da9a39f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.create_table(
        "tenant_data_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(wrapped_key IS NULL) = (destroyed_at IS NOT NULL) AND (wrapped_key IS NULL) = (master_key_id IS NULL)",
            name=op.f("ck_tenant_data_keys_destroyed_keys_erased"),
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_tenant_data_keys_version_positive")),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_tenant_data_keys")),
        schema="public",
    )


def downgrade(op: Operations) -> None:
    op.drop_table("tenant_data_keys", schema="public")
