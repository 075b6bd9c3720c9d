"""How a notification leaves the system: a pluggable `Sender`.

Email and SMS providers are not reachable from here, so the default `RecordingSender` records
the delivery in `notification_deliveries` and stamps `delivered_at`, in the worker's transaction.
A provider-backed sender would call out and then record the same way; its call is the one effect
outside PostgreSQL, so it is at least once if the commit after it fails (give the provider the
notification id as an idempotency key).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.database import utcnow
from backend.notifications.models import Delivery, Notification


class Sender(Protocol):
    name: str

    def send(self, session: Session, notification: Notification) -> None:
        """Deliver one notification inside the caller's (the worker's) transaction."""


class RecordingSender:
    """Records the delivery instead of calling a provider; idempotent by `notification_id`."""

    name = "recording"

    def send(self, session: Session, notification: Notification) -> None:
        now = utcnow()
        session.execute(
            insert(Delivery)
            .values(notification_id=notification.id, sender=self.name, delivered_at=now)
            .on_conflict_do_nothing(index_elements=[Delivery.notification_id])
        )
        if notification.delivered_at is None:
            notification.delivered_at = now
