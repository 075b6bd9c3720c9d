"""The actor and the tenant middleware, on a StubBroker with an in-process Dramatiq worker."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import dramatiq
import pytest
from dramatiq import Broker, Middleware, Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from backend.database import Database
from backend.notifications.delivery import queue_notification, set_sender
from backend.notifications.models import Delivery, Notification
from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.registry import TenantRegistry
from backend.workers.actors import OUTBOX_QUEUE
from backend.workers.broker import setup_broker
from backend.workers.outbox import (
    DELIVER_ACTOR,
    MAX_ATTEMPTS,
    OutboxMessage,
    add_message,
    dispatch,
    drain,
    take_pending,
)
from backend.workers.tenancy import NoTenant, TenantUnavailable, current_session, current_tenant
from tests.workers.conftest import CountingSender

InClinic = Callable[[Tenant], AbstractContextManager[Session]]

PHI_NAME = "Jane Q. Patient"
PHI_EMAIL = "jane.patient@example.test"


def _queue(in_clinic: InClinic, clinic: Tenant) -> tuple[uuid.UUID, uuid.UUID]:
    """A notification with PHI-like content, queued and committed; returns (notification id, outbox id)."""
    with in_clinic(clinic) as session:
        notification = queue_notification(session, "email", PHI_EMAIL, "welcome", f"Dear {PHI_NAME}")
        (outbox_id,) = take_pending(session)
    return notification.id, outbox_id


def _outbox(in_clinic: InClinic, clinic: Tenant, outbox_id: uuid.UUID) -> OutboxMessage:
    with in_clinic(clinic) as session:
        return session.get_one(OutboxMessage, outbox_id)


def _deliveries(in_clinic: InClinic, clinic: Tenant, notification_id: uuid.UUID) -> int:
    with in_clinic(clinic) as session:
        count = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.notification_id == notification_id)
        )
    return int(count or 0)


def _suspend(database: Database, clinic: Tenant) -> None:
    with Session(database.engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == clinic.id).values(status=TenantStatus.SUSPENDED))


class FlakySender(CountingSender):
    """Fails (with PHI in the exception text) a given number of times, then records."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, session: Session, notification: Notification) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError(f"provider refused {notification.recipient} ({PHI_NAME})")
        super().send(session, notification)


class Enqueued(Middleware):
    """Keeps what each enqueue would write to Redis (after the scrubbing middleware ran)."""

    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []
        self.raw: list[bytes] = []

    def before_enqueue(self, broker: Broker, message: Any, delay: int) -> None:
        self.options.append(dict(message.options))
        self.raw.append(message.encode())


def test_worker_delivers_a_queued_notification_in_its_clinic(
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
) -> None:
    """Queue in a transaction, dispatch after commit, and the worker delivers and marks it done."""
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    assert dispatch(clinic.id, [outbox_id], broker=stub_broker) == 1
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[notification_id] == 1
    assert _deliveries(in_clinic, clinic, notification_id) == 1
    with in_clinic(clinic) as session:
        assert session.get_one(Notification, notification_id).delivered_at is not None
    assert _outbox(in_clinic, clinic, outbox_id).processed_at is not None


def test_duplicate_messages_deliver_once(
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
) -> None:
    """Three messages for one row, on two worker threads, call the sender once."""
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    for _ in range(3):
        dispatch(clinic.id, [outbox_id], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[notification_id] == 1
    assert _deliveries(in_clinic, clinic, notification_id) == 1


def test_drainer_delivers_a_row_whose_message_was_never_sent(
    make_clinic: Callable[..., Tenant],
    database: Database,
    registry: TenantRegistry,
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
) -> None:
    """A lost fast-path message only delays the work: the drainer sends the row and it is delivered."""
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    drain(database.engine, registry, stub_broker, older_than_seconds=0)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[notification_id] == 1
    assert _outbox(in_clinic, clinic, outbox_id).processed_at is not None


def test_actor_session_is_bound_to_the_messages_clinic_and_closed_after(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, stub_broker: StubBroker
) -> None:
    """Each message sees its own clinic's schema; work it did not commit is rolled back afterwards."""
    seen: dict[str, str] = {}

    @dramatiq.actor(broker=stub_broker, queue_name="probe")
    def probe(label: str) -> None:
        session = current_session()
        bind = session.get_bind()
        seen[label] = bind.get_execution_options()["schema_translate_map"][None]
        assert current_tenant().schema_name == seen[label]
        session.add(OutboxMessage(kind="test.uncommitted", payload={}))
        session.flush()

    worker = Worker(stub_broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        first, second = make_clinic(), make_clinic()
        probe.send_with_options(args=("first",), tenant_id=str(first.id))
        probe.send_with_options(args=("second",), tenant_id=str(second.id))
        stub_broker.join("probe", fail_fast=True)
    finally:
        worker.stop()
    assert seen == {"first": first.schema_name, "second": second.schema_name}
    for clinic in (first, second):
        with in_clinic(clinic) as session:
            assert (
                session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "test.uncommitted")) is None
            )
    with pytest.raises(NoTenant):
        current_session()


def test_message_for_a_suspended_clinic_is_skipped_and_not_run_in_another_schema(
    make_clinic: Callable[..., Tenant],
    database: Database,
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Skipped from the first message after suspension, despite the cache and same-id rows elsewhere."""
    suspended, other = make_clinic(), make_clinic()
    # While active, a message is delivered (and the worker's registry caches the clinic as active).
    warm_id, warm_outbox = _queue(in_clinic, suspended)
    dispatch(suspended.id, [warm_outbox], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[warm_id] == 1
    notification_id, outbox_id = _queue(in_clinic, suspended)
    with in_clinic(other) as session:
        # Same outbox id and notification in another, active clinic: a wrong schema would deliver it.
        source = _outbox(in_clinic, suspended, outbox_id)
        session.add(
            Notification(id=notification_id, channel="email", recipient=PHI_EMAIL, template="t", body="b")
        )
        session.flush()
        session.execute(insert(OutboxMessage).values(id=outbox_id, kind=source.kind, payload=source.payload))
    _suspend(database, suspended)
    caplog.set_level(logging.DEBUG)
    dispatch(suspended.id, [outbox_id], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[notification_id] == 0
    assert _outbox(in_clinic, suspended, outbox_id).processed_at is None
    assert _outbox(in_clinic, other, outbox_id).processed_at is None
    assert f"inactive tenant {suspended.id}: skipped" in caplog.text
    assert PHI_EMAIL not in caplog.text


@pytest.mark.parametrize("tenant_id", [None, "not-a-uuid", "unknown"])
def test_message_without_a_known_tenant_is_skipped(
    tenant_id: str | None,
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    counting_sender: CountingSender,
) -> None:
    """No tenant, a malformed one or an unknown clinic: the message is skipped, nothing is processed."""
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    actor = stub_broker.get_actor(DELIVER_ACTOR)
    if tenant_id is None:
        actor.send(str(outbox_id))
    else:
        sent_as = str(uuid.uuid4()) if tenant_id == "unknown" else tenant_id
        actor.send_with_options(args=(str(outbox_id),), tenant_id=sent_as)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    assert counting_sender.calls[notification_id] == 0
    assert _outbox(in_clinic, clinic, outbox_id).processed_at is None


def test_failing_delivery_is_retried_then_recorded_dead_without_phi(
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After MAX_ATTEMPTS failures the row is failed with the class name only; logs and Redis carry no PHI."""
    enqueued = Enqueued()
    stub_broker.add_middleware(enqueued)
    sender = FlakySender(failures=1000)
    set_sender(sender)
    caplog.set_level(logging.DEBUG)
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    dispatch(clinic.id, [outbox_id], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    row = _outbox(in_clinic, clinic, outbox_id)
    assert (row.attempts, row.last_error) == (MAX_ATTEMPTS, "RuntimeError")
    assert row.failed_at is not None and row.processed_at is None
    assert sender.failures == 1000 - MAX_ATTEMPTS
    assert _deliveries(in_clinic, clinic, notification_id) == 0
    assert any(options.get("retries") for options in enqueued.options)  # retried messages were seen
    assert all("traceback" not in options for options in enqueued.options)
    assert not any(b"jane" in raw.lower() for raw in enqueued.raw)
    assert PHI_NAME not in caplog.text and PHI_EMAIL not in caplog.text


def test_transient_failure_is_retried_until_delivered_once(
    make_clinic: Callable[..., Tenant],
    in_clinic: InClinic,
    stub_broker: StubBroker,
    stub_worker: Worker,
) -> None:
    """One failure, one retry, one delivery; the failure is kept on the row by class name."""
    sender = FlakySender(failures=1)
    set_sender(sender)
    clinic = make_clinic()
    notification_id, outbox_id = _queue(in_clinic, clinic)
    dispatch(clinic.id, [outbox_id], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    row = _outbox(in_clinic, clinic, outbox_id)
    assert row.processed_at is not None and row.failed_at is None
    assert (row.attempts, row.last_error) == (2, "RuntimeError")
    assert sender.calls[notification_id] == 1


def test_unreadable_registry_fails_the_message_instead_of_running_it_unbound(
    make_clinic: Callable[..., Tenant],
    database: Database,
    in_clinic: InClinic,
    counting_sender: CountingSender,
) -> None:
    """If the tenant cannot be resolved the message fails (to be retried); the actor never runs."""

    class BrokenRegistry(TenantRegistry):
        def reload(self) -> None:
            raise ConnectionError("registry down")

    broker = StubBroker()
    setup_broker(broker, engine=database.engine, registry=BrokenRegistry(database.engine))
    broker.get_actor(DELIVER_ACTOR).options["max_retries"] = 0
    worker = Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        clinic = make_clinic()
        notification_id, outbox_id = _queue(in_clinic, clinic)
        dispatch(clinic.id, [outbox_id], broker=broker)
        with pytest.raises(TenantUnavailable):
            broker.join(OUTBOX_QUEUE, fail_fast=True)
    finally:
        worker.stop()
        broker.close()
    assert counting_sender.calls[notification_id] == 0
    assert _outbox(in_clinic, clinic, outbox_id).processed_at is None


def test_permanent_failure_is_recorded_dead_at_the_first_attempt(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, stub_broker: StubBroker, stub_worker: Worker
) -> None:
    """A row no handler knows is failed at once (class name only), not retried."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        message = add_message(session, "test.nobody_handles_this", {"thing_id": uuid.uuid4()})
    dispatch(clinic.id, [message.id], broker=stub_broker)
    stub_broker.join(OUTBOX_QUEUE, fail_fast=True)
    row = _outbox(in_clinic, clinic, message.id)
    assert (row.attempts, row.last_error) == (1, "UnknownKind")
    assert row.failed_at is not None and row.processed_at is None
