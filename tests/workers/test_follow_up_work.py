"""Work that a handler causes is sent when the handler's transaction commits, not at the next drain."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.notifications.delivery import queue_notification
from backend.notifications.models import Notification
from backend.tenants.models import Tenant
from backend.workers.actors import OUTBOX_QUEUE
from backend.workers.outbox import Payload, add_message, dispatch, handler, take_pending
from tests.workers.conftest import CountingSender

InClinic = Callable[[Tenant], AbstractContextManager[Session]]


@handler("test.notify_follow_up")
def notify_follow_up(session: Session, payload: Payload) -> None:
    """A handler whose effect is more outbox work (as a waitlist offer queues its notices)."""
    queue_notification(session, "email", "staff@example.test", "test.follow_up", "A place opened.")


def test_a_handlers_own_outbox_rows_are_dispatched_after_its_commit(
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
) -> None:
    """Joining the queue once delivers both the first row and the notification it caused."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        add_message(session, "test.notify_follow_up", {})
        ids = take_pending(session)
    dispatch(clinic.id, ids, broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    with in_clinic(clinic) as session:
        notification = session.scalars(select(Notification)).one()
    assert notification.delivered_at is not None
    assert counting_sender.calls[notification.id] == 1
