"""invitations: one-time links for invited users to set their password

Revision ID: 7c1d2e3f4a02
Revises: 6fbc4051de05
Create Date: 2026-11-30 01:45:00

Shared tree: the `public` schema. `op` is passed in (same convention as the tenant tree).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "7c1d2e3f4a02"
down_revision: str | Sequence[str] | None = "6fbc4051de05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["public.tenants.id"],
            name=op.f("fk_invitations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["public.users.id"], name=op.f("fk_invitations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        schema="public",
    )
    op.create_index(op.f("ix_invitations_user_id"), "invitations", ["user_id"], schema="public")


def downgrade(op: Operations) -> None:
    op.drop_index(op.f("ix_invitations_user_id"), table_name="invitations", schema="public")
    op.drop_table("invitations", schema="public")
