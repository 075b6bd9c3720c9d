"""One end-to-end run: a real worker process (`run_worker`) on the test Redis and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from backend.database import Database
from backend.notifications.delivery import queue_notification
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.broker import make_broker
from backend.workers.outbox import OutboxMessage, dispatch, take_pending

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = "dramatiq:outbox.msgs"  # Dramatiq keeps each unacknowledged message here
HEARTBEATS = "dramatiq:__heartbeats__"
DRAIN_SECONDS = 0.2
RESEND_AFTER = 1.0
TIMEOUT = 30.0


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    sender_log: Path
    output: Path

    def calls(self) -> Counter[str]:
        return Counter(self.sender_log.read_text().split())

    def tail(self) -> str:
        return self.output.read_text(errors="replace")[-3000:]


@contextmanager
def running_worker(
    database: Database, redis_url: str, tmp_path: Path, **extra_env: str
) -> Iterator[WorkerProcess]:
    """`run_worker` in a process of its own on this run's database and Redis (plus `extra_env`)."""
    sender_log = tmp_path / "sent.log"
    sender_log.touch()
    output = tmp_path / "worker.out"
    env = {
        **os.environ,
        "DATABASE_URL": database.url,  # this run's database, not the server's default one
        "REDIS_URL": redis_url,
        "ENSEMBLE_ENV": "test",
        "ENSEMBLE_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    command = [
        sys.executable,
        "-m",
        "tests.workers.worker_process",
        "--sender-log",
        str(sender_log),
        "--drain-seconds",
        str(DRAIN_SECONDS),
        "--resend-after",
        str(RESEND_AFTER),
    ]
    with output.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    worker = WorkerProcess(process, sender_log, output)
    try:
        yield worker
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def worker_process(
    database: Database, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[WorkerProcess]:
    with running_worker(database, redis_url, tmp_path) as worker:
        yield worker


def wait_for(
    condition: Callable[[], bool], what: str, worker: WorkerProcess, timeout: float = TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.process.poll() is not None:
            pytest.fail(
                f"worker exited ({worker.process.returncode}) while waiting for {what}:\n{worker.tail()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{worker.tail()}")
        time.sleep(0.05)


def wait_stopped(pid: int) -> None:
    """Wait until the kernel reports the process as stopped (SIGSTOP delivered)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 5
    while stat.exists() and time.monotonic() < deadline:
        if stat.read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
            return
        time.sleep(0.01)
    time.sleep(0.2)


def test_worker_process_delivers_exactly_once_despite_duplicates_and_a_redis_flush(
    make_clinic: Callable[..., Tenant],
    database: Database,
    redis_url: str,
    redis_client: redis.Redis,
    worker_process: WorkerProcess,
) -> None:
    """Sent twice: delivered once. Lost in a Redis flush: the drainer resends, still delivered once."""
    clinic = make_clinic()
    broker = make_broker(redis_url)

    def queue(recipient: str) -> tuple[str, uuid.UUID]:
        with tenant_session(database.engine, clinic.schema_name) as session:
            notification = queue_notification(session, "email", recipient, "welcome", "Welcome to group")
            (outbox_id,) = take_pending(session)
        return str(notification.id), outbox_id

    def outbox(outbox_id: uuid.UUID) -> OutboxMessage:
        with tenant_session(database.engine, clinic.schema_name) as session:
            return session.get_one(OutboxMessage, outbox_id)

    try:
        wait_for(lambda: redis_client.zcard(HEARTBEATS) > 0, "the worker to start consuming", worker_process)

        # 1. One committed change, its message sent twice: one delivery.
        first, first_outbox = queue("first@example.test")
        assert dispatch(clinic.id, [first_outbox], broker=broker) == 1
        assert dispatch(clinic.id, [first_outbox], broker=broker) == 1
        wait_for(
            lambda: worker_process.calls()[first] >= 1 and redis_client.hlen(MESSAGES) == 0,
            "the first notification and both its messages",
            worker_process,
        )

        # 2. With the worker frozen, the next message reaches Redis and is lost in a flush.
        os.kill(worker_process.process.pid, signal.SIGSTOP)
        wait_stopped(worker_process.process.pid)
        second, second_outbox = queue("second@example.test")
        assert dispatch(clinic.id, [second_outbox], broker=broker) == 1
        assert redis_client.hlen(MESSAGES) == 1
        redis_client.flushdb()
        assert redis_client.hlen(MESSAGES) == 0
        os.kill(worker_process.process.pid, signal.SIGCONT)
        wait_for(
            lambda: worker_process.calls()[second] >= 1,
            "the drainer to resend the lost message",
            worker_process,
        )

        # 3. Past the resend cutoff and a few drain passes, nothing is delivered again.
        time.sleep(RESEND_AFTER + 3 * DRAIN_SECONDS)
        wait_for(lambda: redis_client.hlen(MESSAGES) == 0, "the queue to empty", worker_process)
        calls = worker_process.calls()
        assert (calls[first], calls[second]) == (1, 1), worker_process.tail()
        assert outbox(first_outbox).processed_at is not None
        resent = outbox(second_outbox)
        assert resent.processed_at is not None and resent.enqueued_at is not None  # stamped by the drainer
    finally:
        broker.close()

    # 4. SIGTERM stops the worker cleanly.
    worker_process.process.terminate()
    assert worker_process.process.wait(20) == 0, worker_process.tail()
