"""billing providers name their facility type (the 837I type of bill: hospital outpatient 013x or CMHC 076x)

Revision ID: d3f4a5b6c70b
Revises: c2e3f4a5b60a
Create Date: 2026-11-30 06:00:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "d3f4a5b6c70b"
down_revision: str | Sequence[str] | None = "c2e3f4a5b60a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    # Existing providers keep the type of bill their claims were sent with (013x).
    op.add_column(
        "billing_providers",
        sa.Column(
            "facility_type",
            sa.Enum(
                "13",
                "76",
                name="billing_provider_facility_type",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            server_default="13",
            nullable=False,
        ),
    )
    op.alter_column("billing_providers", "facility_type", server_default=None, existing_type=sa.String(30))


def downgrade(op: Operations) -> None:
    op.drop_column("billing_providers", "facility_type")
