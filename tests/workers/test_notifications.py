"""Notifications: queued with their outbox row in one transaction, delivered once by the handler."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.database import Database
from backend.notifications.delivery import DELIVER_KIND, InvalidDeliveryPayload, queue_notification
from backend.notifications.models import Delivery, Notification
from backend.notifications.sender import RecordingSender
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_session
from backend.workers.outbox import OutboxMessage, add_message, process, take_pending
from tests.compliance.key_support import raw_values
from tests.workers.conftest import CountingSender

InClinic = Callable[[Tenant], AbstractContextManager[Session]]


def test_notification_and_its_outbox_row_commit_or_roll_back_together(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """Rolled back: neither exists. Committed: both, the row naming the notification by id only."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        savepoint = session.begin_nested()
        dropped = queue_notification(session, "email", "a@example.test", "welcome", "Hello A")
        session.flush()
        savepoint.rollback()
        kept = queue_notification(session, "sms", "+15550100", "reminder", "Hello B")
    with in_clinic(clinic) as session:
        notifications = set(session.scalars(select(Notification.id)))
        payloads = [row.payload for row in session.scalars(select(OutboxMessage))]
    assert kept.id in notifications and dropped.id not in notifications
    assert payloads == [{"notification_id": str(kept.id)}]


def test_queue_notification_works_with_an_async_session(
    make_clinic: Callable[..., Tenant], database: Database, in_clinic: InClinic
) -> None:
    """The GraphQL layer's AsyncSession queues without any await inside `queue_notification`."""
    clinic = make_clinic()

    async def write() -> tuple[uuid.UUID, list[uuid.UUID]]:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, clinic.schema_name) as session:
                notification = queue_notification(session, "email", "a@example.test", "welcome", "Hi")
                await session.commit()
                return notification.id, take_pending(session)
        finally:
            await engine.dispose()

    notification_id, (outbox_id,) = asyncio.run(write())
    with in_clinic(clinic) as session:
        assert session.get(Notification, notification_id) is not None
        assert session.get_one(OutboxMessage, outbox_id).kind == DELIVER_KIND


def test_unknown_channel_is_refused() -> None:
    """Only email and SMS exist."""
    with Session() as session, pytest.raises(ValueError, match="channel"):
        queue_notification(session, "pigeon", "a@example.test", "welcome", "Hi")


def test_recording_sender_records_one_delivery_and_stamps_the_notification(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """Sending twice leaves one delivery row and the first delivery time."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        notification = queue_notification(session, "email", "a@example.test", "welcome", "Hi")
    sender = RecordingSender()
    with in_clinic(clinic) as session:
        loaded = session.get_one(Notification, notification.id)
        sender.send(session, loaded)
        first = loaded.delivered_at
        sender.send(session, loaded)
    with in_clinic(clinic) as session:
        count = session.scalar(select(func.count()).select_from(Delivery))
        stamped = session.get_one(Notification, notification.id).delivered_at
    assert first is not None and stamped == first
    assert count == 1


def test_processing_a_notification_row_twice_sends_once(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, counting_sender: CountingSender
) -> None:
    """The outbox guard and the handler together call the sender exactly once."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        notification = queue_notification(session, "email", "a@example.test", "welcome", "Hi")
        (outbox_id,) = take_pending(session)
    for expected in (True, False):
        with in_clinic(clinic) as session:
            assert process(session, outbox_id) is expected
    assert counting_sender.calls[notification.id] == 1


def test_a_delivered_notification_keeps_who_and_which_template_but_not_its_text(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, database: Database
) -> None:
    """An invitation's one-time code is gone once sent; before and after, neither the recipient nor the
    text is stored readable (the recipient is a client's email, PHI)."""
    clinic = make_clinic()
    email = f"robin.{uuid.uuid4().hex[:8]}@example.test"
    with in_clinic(clinic) as session:
        notification = queue_notification(session, "email", email, "user.invitation", "Your code: K7Q2M9")
        (outbox_id,) = take_pending(session)
    stored = raw_values(database.engine, clinic.schema_name, "notifications", "recipient") + raw_values(
        database.engine, clinic.schema_name, "notifications", "body"
    )
    assert len(stored) == 2 and not any(email.encode() in v or b"K7Q2M9" in v for v in stored)
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is True
    with in_clinic(clinic) as session:
        sent = session.get_one(Notification, notification.id)
        assert (sent.recipient, sent.template, sent.body) == (email, "user.invitation", None)
        assert sent.delivered_at is not None
    assert raw_values(database.engine, clinic.schema_name, "notifications", "body") == []


def test_a_notification_erased_before_delivery_is_not_sent(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, counting_sender: CountingSender
) -> None:
    """The row is done (nothing to deliver) rather than retried forever."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        notification = queue_notification(session, "email", "a@example.test", "welcome", "Hi")
        (outbox_id,) = take_pending(session)
    with in_clinic(clinic) as session:
        session.execute(delete(Notification).where(Notification.id == notification.id))
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is True
    assert counting_sender.calls[notification.id] == 0


def test_a_delivery_row_without_a_notification_id_fails_permanently(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """A malformed payload is not retried."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        message = add_message(session, DELIVER_KIND, {"other_id": uuid.uuid4()})
    with pytest.raises(InvalidDeliveryPayload), in_clinic(clinic) as session:
        process(session, message.id)
