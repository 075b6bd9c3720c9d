"""Run the worker: a Dramatiq worker for our actors plus the outbox drainer.

`ensemble worker` calls `run_worker(get_settings())`, which blocks until SIGINT/SIGTERM.
`ensemble serve` (which owns the signals) calls `start_worker(settings)` and `.stop()`s the
returned handle on shutdown.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import types
from dataclasses import dataclass, field

from dramatiq import Broker, Worker
from dramatiq.brokers.redis import RedisBroker

from backend.database import Database, connect, database_url
from backend.settings import Settings
from backend.tenants.registry import TenantRegistry
from backend.workers.audit_sealing import SealingNudger
from backend.workers.billing_schedule import BillingSchedule
from backend.workers.broker import configure_broker
from backend.workers.outbox import RESEND_AFTER_SECONDS, drain

log = logging.getLogger(__name__)

DEFAULT_THREADS = 4


@dataclass
class RunningWorker:
    """A started worker: Dramatiq's threads and, optionally, the drainer thread."""

    broker: Broker
    worker: Worker
    database: Database
    drainer: threading.Thread | None
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop draining, let in-flight messages finish (up to the timeout), close connections."""
        self.stopping.set()
        if self.drainer is not None:
            self.drainer.join(timeout_seconds)
        self.worker.stop(timeout=int(timeout_seconds * 1000))
        self.broker.close()
        self.database.dispose()


def start_worker(
    settings: Settings,
    threads: int = DEFAULT_THREADS,
    *,
    drain_outbox: bool = True,
    resend_after_seconds: float = RESEND_AFTER_SECONDS,
) -> RunningWorker:
    """Start a worker in this process (non-blocking) and, with `drain_outbox`, the drainer thread."""
    # Each worker thread holds one connection while it runs a message; the drainer one more.
    database = connect(database_url(settings), max(settings.db_pool_size, threads + 1))
    registry = TenantRegistry(database.engine)
    broker = configure_broker(settings, engine=database.engine, registry=registry)
    worker = Worker(broker, worker_threads=threads)
    worker.start()
    running = RunningWorker(broker, worker, database, None)
    if drain_outbox:
        running.drainer = threading.Thread(
            target=_drain_loop,
            args=(running, registry, settings, resend_after_seconds),
            name="outbox-drainer",
            daemon=True,
        )
        running.drainer.start()
    log.info("worker started with %d threads", threads)
    return running


def _drain_loop(
    running: RunningWorker, registry: TenantRegistry, settings: Settings, resend_after_seconds: float
) -> None:
    engine = running.database.engine
    sealing = SealingNudger(engine, registry, running.broker)
    billing = None
    if settings.billing_tick_seconds > 0 and isinstance(running.broker, RedisBroker):
        billing = BillingSchedule(engine, registry, running.broker.client, settings.billing_tick_seconds)
    while not running.stopping.wait(settings.outbox_drain_seconds):
        try:
            drain(engine, registry, running.broker, resend_after_seconds)
        except Exception as exc:
            log.warning("outbox drain pass failed (%s)", type(exc).__name__)
        sealing.tick()  # audit events waiting to be sealed (never raises)
        if billing is not None:
            billing.tick()  # clearinghouse poll and eligibility checks when due (never raises)


def run_worker(
    settings: Settings,
    processes: int = 1,
    threads: int = DEFAULT_THREADS,
    *,
    resend_after_seconds: float = RESEND_AFTER_SECONDS,
) -> None:
    """Run worker process(es) until SIGINT/SIGTERM; call from the main thread.

    This process runs a worker and the drainer; `processes - 1` more spawned processes run
    workers only (one drainer is enough; two would be harmless).
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "run_worker installs signal handlers: call it from the main thread, or use start_worker"
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(settings, threads), name=f"ensemble-worker-{n}")
        for n in range(1, processes)
    ]
    running = None
    try:
        for child in children:
            child.start()
        running = start_worker(settings, threads, resend_after_seconds=resend_after_seconds)
        while not stop.wait(0.5):  # short waits keep the main thread responsive to signals
            pass
        log.info("worker stopping")
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        if running is not None:
            running.stop()
        for child in children:
            child.join(15)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _child(settings: Settings, threads: int) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    running = start_worker(settings, threads, drain_outbox=False)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
