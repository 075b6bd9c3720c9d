"""Entry point of the end-to-end test's worker process: `python -m tests.workers.worker_process`.

Runs the real `run_worker` (Redis broker, tenant middleware, drainer) with the configuration from
the environment (`DATABASE_URL`, `REDIS_URL`, `ENSEMBLE_DATA_DIR`), and a sender that also appends
each notification id it sends to a file, so the test can count calls across processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from backend.notifications.delivery import set_sender
from backend.notifications.models import Notification
from backend.notifications.sender import RecordingSender
from backend.settings import load_settings
from backend.workers.runner import run_worker


class FileCountingSender(RecordingSender):
    """Records like the default sender, then appends the notification id to a file."""

    name = "file-counting"

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, session: Session, notification: Notification) -> None:
        super().send(session, notification)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, f"{notification.id}\n".encode())
        finally:
            os.close(descriptor)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sender-log", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--drain-seconds", type=float, default=0.2)
    parser.add_argument("--resend-after", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    settings = dataclasses.replace(load_settings(), outbox_drain_seconds=args.drain_seconds)
    set_sender(FileCountingSender(args.sender_log))
    run_worker(settings, threads=args.threads, resend_after_seconds=args.resend_after)


if __name__ == "__main__":
    main()
