"""an IOP/PHP day records the authorization it used

Revision ID: 8a1c2d3e4f06
Revises: 7f0a1b2c3d05
Create Date: 2026-11-30 01:00:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "8a1c2d3e4f06"
down_revision: str | Sequence[str] | None = "7f0a1b2c3d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.add_column("billable_events", sa.Column("authorization_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_billable_events_authorization_id_authorizations"),
        "billable_events",
        "authorizations",
        ["authorization_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade(op: Operations) -> None:
    op.drop_constraint(
        op.f("fk_billable_events_authorization_id_authorizations"), "billable_events", type_="foreignkey"
    )
    op.drop_column("billable_events", "authorization_id")
