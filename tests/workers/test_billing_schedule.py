"""The worker runs the billing tick itself (no cron): once per interval however many processes run."""

from __future__ import annotations

from pathlib import Path

import redis
from sqlalchemy import func, select

from backend.billing.engine import POLL_CLEARINGHOUSE
from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session
from backend.workers.billing_schedule import BillingSchedule
from backend.workers.outbox import OutboxMessage
from tests.support import fresh_database
from tests.workers.test_end_to_end import running_worker, wait_for


def polls(database: Database, clinic: Tenant, processed_only: bool = False) -> int:
    stmt = select(func.count()).where(OutboxMessage.kind == POLL_CLEARINGHOUSE)
    if processed_only:
        stmt = stmt.where(OutboxMessage.processed_at.is_not(None))
    with tenant_session(database.engine, clinic.schema_name) as session:
        return int(session.scalar(stmt) or 0)


def test_two_worker_processes_tick_once_per_interval(settings: Settings, redis_client: redis.Redis) -> None:
    """In a database of its own: the ticks' outbox rows are nobody else's to drain."""
    with fresh_database(settings) as database:
        clinic = provision_tenant(database.engine, "tick", "Tick")
        registry = TenantRegistry(database.engine)
        first, second = (
            BillingSchedule(database.engine, registry, redis_client, interval=60) for _ in range(2)
        )

        assert first.tick() == 1  # the database's one clinic
        assert 0 < redis_client.ttl(first.key) <= 60, "the interval's key lives one interval"
        assert second.tick() is None, "the other process's tick waits for the next interval"
        assert first.tick() is None, "its own interval has not passed"
        assert polls(database, clinic) == 1

        redis_client.delete(first.key)  # the interval is over: its key expired
        later = BillingSchedule(database.engine, registry, redis_client, interval=60)
        assert later.tick() == 1
        assert polls(database, clinic) == 2


def test_a_tick_still_running_is_not_overlapped_by_the_next_interval(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """While another process's tick holds the running lock (it outlived its interval, whose key
    expired), no tick starts; once it is done, the next one runs."""
    with fresh_database(settings) as database:
        clinic = provision_tenant(database.engine, "tick", "Tick")
        registry = TenantRegistry(database.engine)
        schedule = BillingSchedule(database.engine, registry, redis_client, interval=60)
        still_running = redis_client.lock(schedule.running_key, timeout=60)
        assert still_running.acquire(blocking=False)

        assert schedule.tick() is None
        assert polls(database, clinic) == 0
        assert redis_client.exists(schedule.key) == 0, "the skipped pass did not take the interval"

        still_running.release()
        after = BillingSchedule(database.engine, registry, redis_client, interval=60)
        assert after.tick() == 1
        assert polls(database, clinic) == 1
        assert redis_client.exists(schedule.running_key) == 0, "the finished tick let go of its lock"


def test_the_worker_polls_the_clearinghouse_of_every_clinic_without_cron(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    """A database of its own, so the tick visits this clinic alone and leaves no message behind."""
    with fresh_database(settings) as database:
        clinic = provision_tenant(database.engine, "tick", "Tick")
        env = {"ENSEMBLE_BILLING_TICK_SECONDS": "3600"}  # the first tick runs at start, the next in an hour
        with running_worker(database, redis_url, tmp_path, **env) as worker:
            wait_for(
                lambda: polls(database, clinic, processed_only=True) == 1, "a clearinghouse poll run", worker
            )
        assert polls(database, clinic) == 1
