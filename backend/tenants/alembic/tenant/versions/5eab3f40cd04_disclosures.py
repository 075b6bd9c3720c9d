"""disclosures of Part 2 information

Revision ID: 5eab3f40cd04
Revises: 4d9a2e3fbc03
Create Date: 2026-11-29 19:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

revision: str = "5eab3f40cd04"
down_revision: str | Sequence[str] | None = "4d9a2e3fbc03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disclosed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "recipient_kind",
            sa.Enum(
                "program",
                "person",
                "payer",
                "provider",
                name="disclosure_recipient_kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("consent_scope", sa.Text(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "fhir_export",
                "claim",
                "record_release",
                name="disclosure_channel",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "notice",
            sa.Enum(
                "full",
                "short",
                name="disclosure_notice",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_disclosures_client_id_clients")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["part2_consents.id"], name=op.f("fk_disclosures_consent_id_part2_consents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index("ix_disclosures_client_at", "disclosures", ["client_id", "disclosed_at"], unique=False)
    op.create_index("ix_disclosures_at", "disclosures", ["disclosed_at"], unique=False)


def downgrade(op: Operations) -> None:
    op.drop_index("ix_disclosures_at", table_name="disclosures")
    op.drop_index("ix_disclosures_client_at", table_name="disclosures")
    op.drop_table("disclosures")
