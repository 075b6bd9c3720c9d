"""Part 2: program flag, consents, break-the-glass grants

Revision ID: 2b7e0c1d9a01
Revises: f07b68ad8467
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

revision: str = "2b7e0c1d9a01"
down_revision: str | Sequence[str] | None = "f07b68ad8467"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    op.add_column("programs", sa.Column("part2", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "part2_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("purposes", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("other_purpose", sa.String(length=300), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_event", sa.String(length=300), nullable=True),
        sa.Column("end_event_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_event_recorded_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_part2_consents_ends_after_start")
        ),
        sa.CheckConstraint(
            "ends_at IS NOT NULL OR end_event IS NOT NULL", name=op.f("ck_part2_consents_has_end")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_part2_consents_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part2_consents")),
    )
    op.create_index("ix_part2_consents_client", "part2_consents", ["client_id"], unique=False)
    op.create_table(
        "part2_consent_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "program",
                "person",
                "payer",
                "tpo",
                name="recipient_kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'tpo') = (recipient_id IS NULL)", name=op.f("ck_part2_consent_recipients_id_unless_tpo")
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["part2_consents.id"],
            name=op.f("fk_part2_consent_recipients_consent_id_part2_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part2_consent_recipients")),
    )
    op.create_index(
        "ix_part2_consent_recipients_consent", "part2_consent_recipients", ["consent_id"], unique=False
    )
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("expires_at > granted_at", name=op.f("ck_break_glass_grants_expires_after_grant")),
        sa.CheckConstraint("length(btrim(reason)) > 0", name=op.f("ck_break_glass_grants_reason_given")),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_break_glass_grants_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_break_glass_grants_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grants")),
    )
    op.create_index(
        "ix_break_glass_grants_client", "break_glass_grants", ["client_id", "user_id"], unique=False
    )
    op.create_index("ix_break_glass_grants_granted", "break_glass_grants", ["granted_at"], unique=False)


def downgrade(op: Operations) -> None:
    op.drop_index("ix_break_glass_grants_granted", table_name="break_glass_grants")
    op.drop_index("ix_break_glass_grants_client", table_name="break_glass_grants")
    op.drop_table("break_glass_grants")
    op.drop_index("ix_part2_consent_recipients_consent", table_name="part2_consent_recipients")
    op.drop_table("part2_consent_recipients")
    op.drop_index("ix_part2_consents_client", table_name="part2_consents")
    op.drop_table("part2_consents")
    op.drop_column("programs", "part2")
