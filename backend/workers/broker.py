"""The Dramatiq broker: Redis (the machine's, or the embedded one), our middleware and actors."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dramatiq
import redis
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy import Engine

from backend.settings import Settings, get_settings
from backend.tenants.registry import TenantRegistry
from backend.workers.actors import register_actors
from backend.workers.tenancy import NoTracebacks, TenantMiddleware

_configured: Broker | None = None
_configure_lock = threading.RLock()


def setup_broker(
    broker: Broker,
    *,
    engine: Engine | Callable[[], Engine] | None = None,
    registry: TenantRegistry | None = None,
) -> Broker:
    """Add the tenant and traceback-scrubbing middleware to any broker and declare our actors."""
    broker.add_middleware(NoTracebacks())
    broker.add_middleware(TenantMiddleware(engine, registry))
    register_actors(broker)
    return broker


def make_broker(
    redis_url: str,
    *,
    engine: Engine | Callable[[], Engine] | None = None,
    registry: TenantRegistry | None = None,
) -> RedisBroker:
    """A RedisBroker for `redis_url` (redis:// or unix://) with our middleware and actors.

    Short socket timeouts and few reconnect attempts keep `dispatch` quick when Redis is down
    (the drainer catches up); the worker's consumers reconnect on their own.
    """
    client = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    )
    broker = RedisBroker(client=client)  # type: ignore[no-untyped-call]  # untyped upstream
    setup_broker(broker, engine=engine, registry=registry)
    return broker


def broker_url(settings: Settings) -> str:
    """The Redis URL from the settings, or the embedded Redis in the data folder."""
    if settings.redis_url:
        return settings.redis_url
    from backend.embedded import redis_url

    return redis_url(settings.data_dir)


def configure_broker(
    settings: Settings,
    *,
    engine: Engine | Callable[[], Engine] | None = None,
    registry: TenantRegistry | None = None,
) -> RedisBroker:
    """Make the RedisBroker for these settings the global Dramatiq broker and return it."""
    global _configured
    broker = make_broker(broker_url(settings), engine=engine, registry=registry)
    with _configure_lock:
        _configured = broker
        dramatiq.set_broker(broker)
    return broker


def get_configured_broker() -> Broker:
    """The broker set by `configure_broker`, configured from `get_settings()` on first use."""
    with _configure_lock:
        return _configured if _configured is not None else configure_broker(get_settings())
