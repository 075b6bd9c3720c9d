"""tenant data keys wrapped by the master key

Revision ID: 6fbc4051de05
Revises: 8ade5da9a39f
Create Date: 2026-11-29 19:40:00

Shared tree: the `public` schema. `op` is passed in (same convention as the tenant tree).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.operations import Operations

revision: str = "6fbc4051de05"
down_revision: str | Sequence[str] | None = "8ade5da9a39f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    pass


def downgrade(op: Operations) -> None:
    pass
