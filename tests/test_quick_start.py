"""The quick start end to end: `ensemble demo` then `ensemble serve` (API + worker) answer a user."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import select

from backend.compliance.encryption.key_provider import key_spec_for_tests
from backend.database import Database
from backend.demo import DEMO_PASSWORD
from backend.notifications.models import Notification
from backend.tenants.routing import schema_for, tenant_session

ROOT = Path(__file__).resolve().parent.parent
LOGIN = """mutation($input: LoginInput!) { login(input: $input) {
  __typename ... on AuthSession { accessToken clinic } ... on UserError { field code message } } }"""
REGISTER = """mutation { registerClient(input: {firstName: "Iris", lastName: "Vale",
  dateOfBirth: "1979-09-09", email: "iris@example.test"}) { __typename } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_then_serve_lets_the_front_desk_sign_in_and_the_worker_deliver(
    database: Database, redis_url: str, tmp_path: Path
) -> None:
    """A demo user signs in, registers a client, and the in-process worker delivers the welcome."""
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "ENSEMBLE_ENV": "development",
        "ENSEMBLE_DATA_DIR": str(tmp_path),
        # The run's other clinics have data keys wrapped by the tests' master key: one deployment,
        # one master key (a development key of its own could not open them).
        "ENSEMBLE_MASTER_KEYS": key_spec_for_tests(),
    }
    cli = [sys.executable, "-m", "backend.cli"]
    demo = subprocess.run([*cli, "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert demo.returncode == 0, demo.stderr
    assert "front-desk@demo.ensemble.test" in demo.stdout

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        credentials = {"email": "front-desk@demo.ensemble.test", "password": DEMO_PASSWORD}
        login = httpx.post(
            f"{url}/graphql", json={"query": LOGIN, "variables": {"input": credentials}}
        ).json()
        session = login["data"]["login"]
        assert session["__typename"] == "AuthSession" and session["clinic"] == "demo"
        headers = {"Authorization": f"Bearer {session['accessToken']}"}
        registered = httpx.post(f"{url}/graphql", json={"query": REGISTER}, headers=headers).json()
        assert registered["data"]["registerClient"]["__typename"] == "RegisterClientSuccess"

        delivered = False
        while not delivered and time.monotonic() < deadline:
            with tenant_session(database.engine, schema_for("demo")) as db_session:
                notification = db_session.scalars(select(Notification)).one()
                delivered = notification.delivered_at is not None
            time.sleep(0.2)
        assert delivered
    finally:
        server.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        log.close()
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
