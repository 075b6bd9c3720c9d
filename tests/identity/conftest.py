"""Fixtures for sign-in tests: apps with their own throttle keys, users with real passwords."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.identity.throttle import LoginThrottle
from backend.settings import Settings
from tests.identity.flows import Person, make_person
from tests.support import GraphQLClient


@pytest.fixture
def make_client(
    app_database: Database, settings: Settings, redis_url: str
) -> Iterator[Callable[..., GraphQLClient]]:
    """Build an app (settings overridden as given) whose throttle counters belong to this test alone."""
    stack = ExitStack()
    prefixes: list[str] = []

    def make(address: str = "203.0.113.10", prefix: str | None = None, **overrides: Any) -> GraphQLClient:
        """`prefix` shares throttle counters with an app made earlier (as another server would)."""
        app_settings = dataclasses.replace(settings, **overrides)
        prefix = prefix or f"test-login:{uuid.uuid4().hex}"
        prefixes.append(prefix)
        throttle = LoginThrottle(
            AsyncRedis.from_url(redis_url),
            app_settings.secret_key,
            app_settings.login_window_seconds,
            app_settings.login_max_failures_per_account,
            app_settings.login_max_failures_per_address,
            prefix,
        )
        app = create_app(app_settings, app_database, throttle=throttle)
        return GraphQLClient(stack.enter_context(TestClient(app, client=(address, 50000))))

    yield make
    stack.close()
    with redis.Redis.from_url(redis_url) as client:
        for prefix in prefixes:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)


@pytest.fixture
def client(make_client: Callable[..., GraphQLClient]) -> GraphQLClient:
    return make_client()


@pytest.fixture
def person(database: Database) -> Callable[..., Person]:
    def make(*memberships: Any, password: str | None = None) -> Person:
        return make_person(database, list(memberships), password)

    return make
