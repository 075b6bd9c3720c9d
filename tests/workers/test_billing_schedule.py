"""The worker runs the billing tick itself (no cron): once per interval however many processes run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis
from sqlalchemy import func, select

from backend.billing.engine import POLL_CLEARINGHOUSE
from backend.database import Database
from backend.tenants.models import Tenant
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session
from backend.workers.billing_schedule import BillingSchedule
from backend.workers.outbox import OutboxMessage
from tests.workers.test_end_to_end import running_worker, wait_for


def polls(database: Database, clinic: Tenant, processed: bool | None = None) -> int:
    stmt = select(func.count()).where(OutboxMessage.kind == POLL_CLEARINGHOUSE)
    if processed is not None:
        stmt = stmt.where(
            OutboxMessage.processed_at.is_not(None) if processed else OutboxMessage.processed_at.is_(None)
        )
    with tenant_session(database.engine, clinic.schema_name) as session:
        return int(session.scalar(stmt) or 0)


def test_two_worker_processes_tick_once_per_interval(
    database: Database, redis_client: redis.Redis, make_clinic: Callable[..., Tenant]
) -> None:
    clinic = make_clinic()
    registry = TenantRegistry(database.engine)
    first, second = (BillingSchedule(database.engine, registry, redis_client, interval=60) for _ in range(2))
    redis_client.delete(first.key)

    ran = first.tick()
    assert ran is not None and ran >= 1  # every active clinic, this one among them
    assert 0 < redis_client.ttl(first.key) <= 60, "the interval's key lives one interval"
    assert second.tick() is None, "the other process's tick waits for the next interval"
    assert first.tick() is None, "its own interval has not passed"
    assert polls(database, clinic) == 1

    redis_client.delete(first.key)  # the interval is over: its key expired
    later = BillingSchedule(database.engine, registry, redis_client, interval=60)
    assert later.tick() is not None
    assert polls(database, clinic) == 2


def test_the_worker_polls_the_clearinghouse_of_every_clinic_without_cron(
    database: Database,
    redis_url: str,
    redis_client: redis.Redis,
    make_clinic: Callable[..., Tenant],
    tmp_path: Path,
) -> None:
    clinic = make_clinic()
    redis_client.delete(f"ensemble:billing-tick:{database.engine.url.database}")
    with running_worker(database, redis_url, tmp_path, ENSEMBLE_BILLING_TICK_SECONDS="1") as worker:
        # The tick visits every clinic of the test database (hundreds by now), this one among them.
        wait_for(
            lambda: polls(database, clinic, processed=True) >= 1, "a clearinghouse poll run", worker, 120
        )
