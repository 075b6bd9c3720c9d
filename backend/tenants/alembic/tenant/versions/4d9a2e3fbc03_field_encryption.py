"""field encryption: note text, risk assessments and member identifiers

Revision ID: 4d9a2e3fbc03
Revises: 3c8f1d2eab02
Create Date: 2026-11-29 19:40:00

Tenant tree: runs in one clinic schema at a time. Never name a schema here: the runner routes
bare names to the clinic's schema. `op` is passed in; do not import it from alembic (its module
proxy is a process global and clinics migrate in parallel threads).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.operations import Operations

revision: str = "4d9a2e3fbc03"
down_revision: str | Sequence[str] | None = "3c8f1d2eab02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(op: Operations) -> None:
    pass


def downgrade(op: Operations) -> None:
    pass
