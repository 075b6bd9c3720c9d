"""Notifications to clients, referrers and staff, delivered by a worker through a pluggable sender.

The recipient (a client's email or phone is PHI) and the body (an invitation's one-time code) are
encrypted with the clinic's data key; the body is dropped once delivered (`delivered_at` set): what
stays is who was sent which template when.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.compliance.encryption.field_crypto import EncryptedText
from backend.database import TenantBase, utcnow, uuid_pk


class Notification(TenantBase):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(EncryptedText("notifications.recipient"))
    template: Mapped[str] = mapped_column(String(80))
    #: None once delivered.
    body: Mapped[str | None] = mapped_column(EncryptedText("notifications.body"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class Delivery(TenantBase):
    """What the default (recording) sender did: one row per notification, never two."""

    __tablename__ = "notification_deliveries"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    sender: Mapped[str] = mapped_column(String(40))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
