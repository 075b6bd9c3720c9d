"""Queue a notification in the caller's transaction; deliver it from the outbox in the worker.

`queue_notification` adds the notification and its outbox row (`notification.deliver`, payload
`{"notification_id": ...}`) to the same transaction, so the notification exists if and only if
its delivery is due. After commit the caller sends the row with `backend.workers.outbox.dispatch`
(ids from `take_pending(session)`); if that message is lost, the drainer sends it again.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.database import utcnow
from backend.notifications.models import Notification
from backend.notifications.sender import RecordingSender, Sender
from backend.workers.outbox import Payload, PermanentFailure, add_message, handler

log = logging.getLogger(__name__)

DELIVER_KIND = "notification.deliver"
CHANNELS = frozenset({"email", "sms"})

_sender: Sender = RecordingSender()


def set_sender(sender: Sender) -> None:
    """Choose how notifications leave the worker (the default records them only)."""
    global _sender
    _sender = sender


def get_sender() -> Sender:
    return _sender


def queue_notification(
    session: Session | AsyncSession, channel: str, recipient: str, template: str, body: str
) -> Notification:
    """Add a notification and its delivery outbox row to the caller's transaction (no I/O).

    Works with a sync or an async session: it only `add`s, with the id generated here.
    """
    if channel not in CHANNELS:
        raise ValueError("unknown notification channel")
    notification = Notification(
        id=uuid.uuid4(),
        channel=channel,
        recipient=recipient,
        template=template,
        body=body,
        created_at=utcnow(),
    )
    session.add(notification)
    add_message(session, DELIVER_KIND, {"notification_id": notification.id})
    return notification


class InvalidDeliveryPayload(PermanentFailure):
    """The outbox row does not name a notification."""


@handler(DELIVER_KIND)
def deliver_notification(session: Session, payload: Payload) -> None:
    """Send one notification unless it is gone or already delivered."""
    try:
        notification_id = uuid.UUID(str(payload["notification_id"]))
    except (KeyError, ValueError):
        raise InvalidDeliveryPayload("notification_id missing or invalid") from None
    notification = session.get(Notification, notification_id, with_for_update=True)
    if notification is None:
        # Erased before delivery: nothing to send.
        log.info("notification %s no longer exists: nothing to deliver", notification_id)
        return
    if notification.delivered_at is not None:
        return
    _sender.send(session, notification)
    # Sent: the text (an invitation's one-time code among them) is not kept.
    notification.body = None
