"""A StubBroker wired like production and an app that dispatches its outbox rows to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq.brokers.stub import StubBroker
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.settings import Settings
from backend.tenants.registry import TenantRegistry
from backend.workers.broker import setup_broker
from tests.support import GraphQLClient


@pytest.fixture
def stub_broker(database: Database) -> Iterator[StubBroker]:
    broker = setup_broker(StubBroker(), engine=database.engine, registry=TenantRegistry(database.engine))
    yield broker
    broker.close()


@pytest.fixture
def graphql_with_worker(
    app_database: Database, settings: Settings, stub_broker: StubBroker
) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database, broker=stub_broker)) as http:
        yield GraphQLClient(http)
