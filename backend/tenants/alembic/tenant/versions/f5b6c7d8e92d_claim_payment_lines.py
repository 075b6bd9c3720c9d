"""claim payments keep each service line as the payer answered it (an IOP/PHP week's days one by one)

Revision ID: f5b6c7d8e92d
Revises: e4a5b6c7d81c
Create Date: 2026-11-30 08:00:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

revision: str = "f5b6c7d8e92d"
down_revision: str | Sequence[str] | None = "e4a5b6c7d81c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    # Payments posted before this keep their claim- and line-level adjustments; their lines are empty.
    op.add_column(
        "claim_payments",
        sa.Column(
            "lines",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.alter_column("claim_payments", "lines", server_default=None, existing_type=postgresql.JSONB())


def downgrade(op: Operations) -> None:
    op.drop_column("claim_payments", "lines")
