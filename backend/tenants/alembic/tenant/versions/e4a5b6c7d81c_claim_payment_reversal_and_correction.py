"""one remittance may reverse a claim's payment and pay it again: unique per claim and CLP02 status

Revision ID: e4a5b6c7d81c
Revises: d3f4a5b6c70b
Create Date: 2026-11-30 07:00:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.operations import Operations

revision: str = "e4a5b6c7d81c"
down_revision: str | Sequence[str] | None = "d3f4a5b6c70b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "uq_claim_payments_remittance_id_claim_id"
AFTER = "uq_claim_payments_remittance_id_claim_id_status_code"


def upgrade(op: Operations) -> None:
    op.drop_constraint(BEFORE, "claim_payments", type_="unique")
    op.create_unique_constraint(AFTER, "claim_payments", ["remittance_id", "claim_id", "status_code"])


def downgrade(op: Operations) -> None:
    """A remittance's reversals go (their corrections stay: the claim's latest answer)."""
    op.execute("DELETE FROM claim_payments WHERE status_code = '22'")
    op.drop_constraint(AFTER, "claim_payments", type_="unique")
    op.create_unique_constraint(BEFORE, "claim_payments", ["remittance_id", "claim_id"])
