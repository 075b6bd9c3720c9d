"""Registering a client with an email sends a welcome through the outbox, once, after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.notifications.models import Delivery, Notification
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session
from backend.workers.broker import setup_broker
from backend.workers.outbox import OutboxMessage
from tests.graphql.test_clinic_isolation import REGISTER
from tests.support import GraphQLClient, make_account


@pytest.fixture
def stub_broker(database: Database) -> Iterator[StubBroker]:
    broker = setup_broker(StubBroker(), engine=database.engine, registry=TenantRegistry(database.engine))
    yield broker
    broker.close()


@pytest.fixture
def graphql_with_stub(
    app_database: Database, settings: Settings, stub_broker: StubBroker
) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database, broker=stub_broker)) as http:
        yield GraphQLClient(http)


def test_registering_a_client_with_email_delivers_one_welcome_via_the_worker(
    graphql_with_stub: GraphQLClient,
    stub_broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """The message carries only ids; the worker delivers the welcome exactly once."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    variables = {
        "input": {
            "firstName": "Ola",
            "lastName": "Berg",
            "dateOfBirth": "1985-05-05",
            "email": "ola@example.test",
        }
    }
    result = graphql_with_stub.data(REGISTER, variables, staff.token)["registerClient"]
    assert result["__typename"] == "RegisterClientSuccess"

    queued = list(stub_broker.queues["outbox"].queue)
    assert len(queued) == 1
    assert "Ola" not in str(queued) and "ola@example.test" not in str(queued)

    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        stub_broker.join("outbox", fail_fast=True)
    finally:
        worker.stop()
    with tenant_session(database.engine, clinic.schema_name) as session:
        notification = session.scalars(select(Notification)).one()
        deliveries = session.scalars(select(Delivery)).all()
        outbox = session.scalars(select(OutboxMessage)).one()
    assert notification.recipient == "ola@example.test" and notification.delivered_at is not None
    assert [d.notification_id for d in deliveries] == [notification.id]
    assert outbox.processed_at is not None


def test_a_rejected_registration_queues_no_notification(
    graphql_with_stub: GraphQLClient,
    stub_broker: StubBroker,
    database: Database,
    settings: Settings,
    make_clinic: Callable[..., Tenant],
) -> None:
    """Bad input rolls back the client, its notification and its outbox row together."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    variables = {
        "input": {"firstName": "", "lastName": "Berg", "dateOfBirth": "1985-05-05", "email": "o@example.test"}
    }
    assert (
        graphql_with_stub.data(REGISTER, variables, staff.token)["registerClient"]["__typename"]
        == "InvalidInput"
    )
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(Notification)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []
    assert stub_broker.queues["outbox"].qsize() == 0
