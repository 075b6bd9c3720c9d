"""claims to a secondary payer: responsibility and primary_claim_id; one original per event and payer order

Revision ID: c2e3f4a5b60a
Revises: b1d2e3f4a509
Create Date: 2026-11-30 04:00:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "c2e3f4a5b60a"
down_revision: str | Sequence[str] | None = "b1d2e3f4a509"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_claims_original_per_event"


def upgrade(op: Operations) -> None:
    op.add_column(
        "claims",
        sa.Column("responsibility", sa.String(length=9), server_default="primary", nullable=False),
    )
    op.alter_column("claims", "responsibility", server_default=None, existing_type=sa.String(length=9))
    op.add_column("claims", sa.Column("primary_claim_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_claims_primary_claim_id_claims"), "claims", "claims", ["primary_claim_id"], ["id"]
    )
    op.drop_index(INDEX, table_name="claims")
    op.create_index(
        INDEX,
        "claims",
        ["billable_event_id", "responsibility"],
        unique=True,
        postgresql_where=sa.text("frequency = '1'"),
    )


def downgrade(op: Operations) -> None:
    """Claims to secondary payers go (their successors first: corrections point back at them)."""
    op.execute(
        "DELETE FROM claim_payments WHERE claim_id IN (SELECT id FROM claims WHERE responsibility = 'secondary')"
    )
    op.execute(
        "DELETE FROM claims WHERE replaces_claim_id IN (SELECT id FROM claims WHERE responsibility = 'secondary')"
    )
    op.execute("DELETE FROM claims WHERE responsibility = 'secondary'")
    op.drop_index(INDEX, table_name="claims")
    op.create_index(
        INDEX, "claims", ["billable_event_id"], unique=True, postgresql_where=sa.text("frequency = '1'")
    )
    op.drop_constraint(op.f("fk_claims_primary_claim_id_claims"), "claims", type_="foreignkey")
    op.drop_column("claims", "primary_claim_id")
    op.drop_column("claims", "responsibility")
