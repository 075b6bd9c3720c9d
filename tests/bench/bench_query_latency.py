"""Benchmark: a simple authenticated GraphQL query with 1 and with 2,000 clinic schemas.

Run: `.venv/bin/python -m tests.bench.bench_query_latency [--clinics 2000] [--requests 400]`.
Uses DATABASE_URL or the embedded server; creates and drops a throwaway database. The same
in-process app serves both rounds, so the ratio of medians is what to read (goal: within 10%).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database, connect, database_url
from backend.settings import load_settings
from backend.tenants.provisioning import create_shared_schema, provision_tenant
from tests.support import make_account

QUERY = "query { clients(first: 10) { edges { node { id firstName } } } }"


def measure(http: TestClient, token: str, requests: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(20):  # warm-up: pool, caches, JIT of nothing
        http.post("/graphql", json={"query": QUERY}, headers=headers)
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = http.post("/graphql", json={"query": QUERY}, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and "errors" not in response.json()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    settings = load_settings()
    server = make_url(database_url(settings))
    name = f"ensemble_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    db = connect(url)
    try:
        create_shared_schema(db.engine)
        clinic = provision_tenant(db.engine, "bench-clinic", "Bench")
        account = make_account(db, settings, clinic, ["front_desk"])
        app_db = Database(url, db.engine, create_async_engine(url, pool_size=5))
        with TestClient(create_app(settings, app_db)) as http:
            one = measure(http, account.token, args.requests)
            started = time.perf_counter()
            for i in range(args.clinics - 1):
                provision_tenant(db.engine, f"bench-{i:05d}", f"Bench {i}")
            provisioning = time.perf_counter() - started
            many = measure(http, account.token, args.requests)
        p50_one, p50_many = statistics.median(one), statistics.median(many)
        print(f"provisioned {args.clinics - 1} more clinics in {provisioning:.1f} s")
        print(f"{'schemas':>8} {'median ms':>10} {'p90 ms':>8}")
        print(f"{1:>8} {p50_one:>10.2f} {statistics.quantiles(one, n=10)[-1]:>8.2f}")
        print(f"{args.clinics:>8} {p50_many:>10.2f} {statistics.quantiles(many, n=10)[-1]:>8.2f}")
        print(f"ratio of medians: {p50_many / p50_one:.3f} (goal <= 1.10)")
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
