"""Fixtures for the worker tests: a StubBroker wired like production, a worker, a counting sender."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.orm import Session

from backend.database import Database
from backend.notifications.delivery import get_sender, set_sender
from backend.notifications.models import Notification
from backend.notifications.sender import RecordingSender
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session
from backend.workers.broker import setup_broker
from backend.workers.outbox import DELIVER_ACTOR


class CountingSender(RecordingSender):
    """Records like the default sender and counts calls per notification (a PK cannot hide a repeat)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: Counter[object] = Counter()
        self._lock = threading.Lock()

    def send(self, session: Session, notification: Notification) -> None:
        with self._lock:
            self.calls[notification.id] += 1
        super().send(session, notification)


@pytest.fixture
def counting_sender() -> Iterator[CountingSender]:
    previous = get_sender()
    sender = CountingSender()
    set_sender(sender)
    yield sender
    set_sender(previous)


@pytest.fixture
def registry(database: Database) -> TenantRegistry:
    # The production default TTL: tests must not rely on the cache being fresh.
    return TenantRegistry(database.engine)


@pytest.fixture
def stub_broker(database: Database, registry: TenantRegistry) -> Iterator[StubBroker]:
    broker = StubBroker()
    setup_broker(broker, engine=database.engine, registry=registry)
    # Retries in milliseconds rather than seconds, so retry tests stay fast.
    broker.get_actor(DELIVER_ACTOR).options.update(min_backoff=5, max_backoff=20)
    yield broker
    broker.close()


@pytest.fixture
def stub_worker(stub_broker: StubBroker) -> Iterator[Worker]:
    worker = Worker(stub_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def in_clinic(database: Database) -> Callable[[Tenant], AbstractContextManager[Session]]:
    """A committed-on-exit session in one clinic's schema."""

    def enter(clinic: Tenant) -> AbstractContextManager[Session]:
        return tenant_session(database.engine, clinic.schema_name)

    return enter
