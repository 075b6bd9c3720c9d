"""a coverage ends when the member changes payer: ended_at; one current coverage per priority

Revision ID: b1d2e3f4a509
Revises: a0c1d2e3f408
Create Date: 2026-11-30 03:30:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "b1d2e3f4a509"
down_revision: str | Sequence[str] | None = "a0c1d2e3f408"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.add_column("client_coverages", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f("uq_client_coverages_client_id_priority"), "client_coverages", type_="unique")
    op.create_index(
        "uq_client_coverages_current_priority",
        "client_coverages",
        ["client_id", "priority"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade(op: Operations) -> None:
    """Ended coverages go with their history (authorizations and eligibility checks cascade)."""
    op.execute("DELETE FROM client_coverages WHERE ended_at IS NOT NULL")
    op.drop_index("uq_client_coverages_current_priority", table_name="client_coverages")
    op.create_unique_constraint(
        op.f("uq_client_coverages_client_id_priority"), "client_coverages", ["client_id", "priority"]
    )
    op.drop_column("client_coverages", "ended_at")
