"""Runs the billing tick (backend.billing.billing_tick) from the worker, so no cron is needed.

Every worker process's drainer calls `BillingSchedule.tick` on each pass; the tick runs when this
process's interval has passed, no other process's tick is still running (a redis-py `Lock`, renewed
before each clinic, so a tick that outlives its interval is not overlapped by the next), and it wins
the interval's Redis key (`SET NX EX interval`). However many worker processes and hosts run, the
clinics get at most one tick per interval, one at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

import redis
from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy import Engine

from backend.billing.billing_tick import run_billing_tick
from backend.tenants.registry import TenantRegistry

log = logging.getLogger(__name__)

#: Default interval: responses and eligibility within 15 minutes, as the cron line used to run it.
BILLING_TICK_SECONDS = 15 * 60


class BillingSchedule:
    def __init__(
        self,
        engine: Engine,
        registry: TenantRegistry,
        client: redis.Redis,
        interval: float = BILLING_TICK_SECONDS,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.client = client
        self.interval = interval
        self.today = today
        # One key per database: deployments (or test runs) sharing a Redis do not hold each other off.
        self.key = f"ensemble:billing-tick:{engine.url.database}"
        self.running_key = f"ensemble:billing-tick-running:{engine.url.database}"
        self._last = float("-inf")

    def tick(self) -> int | None:
        """Run the tick when due and won; returns how many clinics it ran for (None: not this pass).
        Never raises: a failed pass is retried at the next interval."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return None
        self._last = now
        seconds = max(1, int(self.interval))
        # Expires on its own if its holder dies; renewed before each clinic while the tick runs.
        running = self.client.lock(self.running_key, timeout=seconds, blocking=False)
        try:
            if not running.acquire():
                return None  # another process's tick is still running
            try:
                if not self.client.set(self.key, "1", nx=True, ex=seconds):
                    return None  # another process ran this interval's tick
                return self._run(running)
            finally:
                try:
                    running.release()
                except LockError:  # it expired during a clinic longer than the interval
                    log.warning("billing tick outlived its lock")
        except Exception as exc:
            log.warning("billing tick pass failed (%s)", type(exc).__name__)
            return None

    def _run(self, running: Lock) -> int:
        """Each clinic in turn, renewing the running lock before each."""
        clinics, today = self.registry.active(), self.today()
        for clinic in clinics:
            running.reacquire()
            run_billing_tick(self.engine, [clinic], today)
        return len(clinics)
