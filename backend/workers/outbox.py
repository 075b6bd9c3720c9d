"""The transactional outbox: work written in the same transaction as the change that causes it.

Messages on Redis carry only the tenant and the outbox id; a lost message delays work (the
drainer sends it again) and never loses it, and processing is idempotent (see `process`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, utcnow, uuid_pk


class OutboxMessage(TenantBase):
    __tablename__ = "outbox"
    __table_args__ = (
        # The drainer's scan: only rows not yet processed.
        Index("ix_outbox_pending", "created_at", postgresql_where=text("processed_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(80))
    # Ids only, never PHI: the payload is read by the worker from this table, not from Redis.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Exception class only, never a message that could quote PHI.
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]
