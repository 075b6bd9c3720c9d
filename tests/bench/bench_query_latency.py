"""Benchmark: a simple authenticated GraphQL query with 1 and with 2,000 clinic schemas.

Run: `.venv/bin/python -m tests.bench.bench_query_latency [--clinics 2000] [--rounds 20]`.
Uses DATABASE_URL or the embedded server. Two throwaway databases on the same server, one with a
single clinic and one with `--clinics` clinics, each served by its own in-process app; requests
alternate between them in rounds so machine noise hits both sides alike. Read the ratio of
medians (goal: within 10%).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.settings import load_settings
from backend.tenants.provisioning import provision_tenant
from tests.support import fresh_database, make_account

QUERY = "query { clients(first: 10) { edges { node { id firstName } } } }"


def timed(http: TestClient, headers: dict[str, str], requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = http.post("/graphql", json={"query": QUERY}, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and "errors" not in response.json()
    return samples


def provision_many(engine: Engine, count: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: provision_tenant(engine, f"bench-{i:05d}", f"Bench {i}"), range(count)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=25)
    args = parser.parse_args()

    settings = load_settings()
    with fresh_database(settings) as single, fresh_database(settings) as crowded:
        sides = {}
        for size, db in ((1, single), (args.clinics, crowded)):
            clinic = provision_tenant(db.engine, "bench-clinic", "Bench")
            account = make_account(db, settings, clinic, ["front_desk"])
            if size > 1:
                print(f"provisioned {size - 1} more clinics in {provision_many(db.engine, size - 1):.1f} s")
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # let catalog churn settle before measuring
            app_db = Database(db.url, db.engine, create_async_engine(db.url, pool_size=5))
            sides[size] = (create_app(settings, app_db), {"Authorization": f"Bearer {account.token}"})

        samples: dict[int, list[float]] = {size: [] for size in sides}
        with TestClient(sides[1][0]) as one, TestClient(sides[args.clinics][0]) as many:
            clients = {1: one, args.clinics: many}
            for size, http in clients.items():
                timed(http, sides[size][1], 30)  # warm-up
            for _ in range(args.rounds):
                for size, http in clients.items():
                    samples[size] += timed(http, sides[size][1], args.per_round)
        print(
            f"{'schemas':>8} {'median ms':>10} {'p90 ms':>8}  ({len(samples[1])} requests each, interleaved)"
        )
        for size, values in samples.items():
            print(
                f"{size:>8} {statistics.median(values):>10.2f} {statistics.quantiles(values, n=10)[-1]:>8.2f}"
            )
        ratio = statistics.median(samples[args.clinics]) / statistics.median(samples[1])
        print(f"ratio of medians: {ratio:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
