"""sealed audit log: chained encrypted entries and signed checkpoints

Revision ID: 3c8f1d2eab02
Revises: 2b7e0c1d9a01
Create Date: 2026-11-29 19:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "3c8f1d2eab02"
down_revision: str | Sequence[str] | None = "2b7e0c1d9a01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("sealed_audit_entries", "audit_checkpoints")
# Frozen copies of backend.compliance.audit.sealed_models' DDL (what create_all installs).
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
USING ERRCODE = 'insufficient_privilege'; END $$
"""


def upgrade(op: Operations) -> None:
    # audit_events becomes the sealer's inbox, read in id order only: its member index is write cost.
    op.drop_index("ix_audit_events_member", table_name="audit_events")
    op.create_table(
        "sealed_audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.Column("member_index", sa.LargeBinary(), nullable=True),
        sa.Column("user_index", sa.LargeBinary(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("resource_type", sa.String(length=60), nullable=False),
        sa.Column("outside_care", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sealed_audit_entries")),
    )
    op.create_index(
        "ix_sealed_audit_entries_member_index_seq", "sealed_audit_entries", ["member_index", "seq"]
    )
    op.create_index("ix_sealed_audit_entries_user_index_seq", "sealed_audit_entries", ["user_index", "seq"])
    op.create_index(
        "ix_sealed_audit_entries_outside_care",
        "sealed_audit_entries",
        ["seq"],
        postgresql_where=sa.text("outside_care"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    # Bare names resolve to the clinic's schema (the runner's search_path), as create_all's do.
    op.execute(APPEND_ONLY_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def downgrade(op: Operations) -> None:
    op.drop_table("audit_chain_head")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_sealed_audit_entries_outside_care", table_name="sealed_audit_entries")
    op.drop_index("ix_sealed_audit_entries_user_index_seq", table_name="sealed_audit_entries")
    op.drop_index("ix_sealed_audit_entries_member_index_seq", table_name="sealed_audit_entries")
    op.drop_table("sealed_audit_entries")
    op.execute("DROP FUNCTION audit_append_only()")
    op.create_index("ix_audit_events_member", "audit_events", ["member_id", "occurred_at"])
