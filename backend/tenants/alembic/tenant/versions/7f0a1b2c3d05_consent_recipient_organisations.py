"""consents may name an organisation outside the clinic

Revision ID: 7f0a1b2c3d05
Revises: 5eab3f40cd04
Create Date: 2026-11-29 22:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic.operations import Operations

revision: str = "7f0a1b2c3d05"
down_revision: str | Sequence[str] | None = "5eab3f40cd04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "part2_consent_recipients"


def upgrade(op: Operations) -> None:
    op.add_column(TABLE, sa.Column("name", sa.String(length=200), nullable=True))
    op.drop_constraint(op.f("ck_part2_consent_recipients_recipient_kind"), TABLE, type_="check")
    op.create_check_constraint(
        op.f("ck_part2_consent_recipients_recipient_kind"),
        TABLE,
        "kind IN ('program', 'person', 'payer', 'organization', 'tpo')",
    )
    op.drop_constraint(op.f("ck_part2_consent_recipients_id_unless_tpo"), TABLE, type_="check")
    op.create_check_constraint(
        op.f("ck_part2_consent_recipients_recipient_id_by_kind"),
        TABLE,
        "(kind IN ('tpo', 'organization')) = (recipient_id IS NULL)",
    )
    op.create_check_constraint(
        op.f("ck_part2_consent_recipients_name_for_organization"),
        TABLE,
        "(kind = 'organization') = (name IS NOT NULL)",
    )


def downgrade(op: Operations) -> None:
    op.execute(sa.text("DELETE FROM part2_consent_recipients WHERE kind = 'organization'"))
    op.drop_constraint(op.f("ck_part2_consent_recipients_name_for_organization"), TABLE, type_="check")
    op.drop_constraint(op.f("ck_part2_consent_recipients_recipient_id_by_kind"), TABLE, type_="check")
    op.create_check_constraint(
        op.f("ck_part2_consent_recipients_id_unless_tpo"), TABLE, "(kind = 'tpo') = (recipient_id IS NULL)"
    )
    op.drop_constraint(op.f("ck_part2_consent_recipients_recipient_kind"), TABLE, type_="check")
    op.create_check_constraint(
        op.f("ck_part2_consent_recipients_recipient_kind"),
        TABLE,
        "kind IN ('program', 'person', 'payer', 'tpo')",
    )
    op.drop_column(TABLE, "name")
