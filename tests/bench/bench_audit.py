"""Benchmark: the sealed audit log. Not collected by pytest.

    python -m tests.bench.bench_audit [--events 100000] [--runs 3] [--view-runs 40]

Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after.

1. Sealing and verification: `--events` audit events are generated in `audit_events` with one
   INSERT ... SELECT generate_series (50 users, 2,000 members, 3 reads to 1 update), then sealed
   (`seal_clinic`: batches of 10,000, each encrypted, chained, care-checked and signed, source rows
   deleted) and verified (`verify_clinic`: every entry decrypted and re-hashed, every checkpoint's
   signature checked). Prints events/s for sealing and the verify time, median of `--runs` fresh
   clinics; plus one member's access report (first page, 50 rows) over the sealed log.
2. The cost of auditing every PHI read: the documentation view of bench_documentation (sessionRecord +
   preSessionBrief, roster of 12; it writes one audit event per member section and brief it shows)
   with audit capture on and off (`Context.audit` replaced by a no-op, for this benchmark only),
   interleaved in one run; prints medians, requests/s and the ratio (goal: at most 15% slower).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.compliance.audit.access_reports import ReportFilter, ReportKind, read_report
from backend.compliance.audit.events import AuditEvent
from backend.compliance.audit.sealing import seal_clinic, verify_clinic
from backend.database import Database
from backend.graphql.context import Context
from backend.settings import load_settings
from backend.tenants.models import Tenant
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_session
from tests.bench.bench_documentation import VIEW, seed_view
from tests.documentation.test_privacy_matrix import add_staff
from tests.support import fresh_database, make_account

USERS = 50
MEMBERS = 2_000


def generate_events(engine: Engine, clinic: Tenant, count: int) -> float:
    """`count` audit events as PHI reads would have written them; returns seconds taken."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(
                f'INSERT INTO "{clinic.schema_name}".audit_events (occurred_at, user_id, tenant_id, roles, '
                "action, resource_type, resource_id, member_id, client_address, operation) "
                "SELECT now() - make_interval(secs => (:n - g) / 1000.0), "
                "('00000000-0000-4000-8000-' || lpad(to_hex(g % :users), 12, '0'))::uuid, :tenant, "
                "ARRAY['clinician'], CASE WHEN g % 4 = 0 THEN 'update' ELSE 'read' END, 'member_section', "
                "g::text, ('00000000-0000-4000-9000-' || lpad(to_hex(g % :members), 12, '0'))::uuid, "
                "'10.0.0.1', 'SessionRecord' FROM generate_series(1, :n) g"
            ),
            {"n": count, "users": USERS, "members": MEMBERS, "tenant": clinic.id},
        )
    return time.perf_counter() - started


def bench_sealing(db: Database, events: int, runs: int) -> None:
    print(f"sealing and verifying {events:,} events ({USERS} users, {MEMBERS:,} members), {runs} run(s)")
    seal_s, verify_s, report_ms = [], [], []
    for run in range(runs):
        clinic = provision_tenant(db.engine, f"bench-audit-{run}-{uuid.uuid4().hex[:6]}", "Bench")
        generated = generate_events(db.engine, clinic, events)
        started = time.perf_counter()
        result = seal_clinic(db.engine, clinic.schema_name, clinic.id)
        seal_s.append(time.perf_counter() - started)
        assert result.sealed == events, result
        started = time.perf_counter()
        verification = verify_clinic(db.engine, clinic.schema_name, clinic.id)
        verify_s.append(time.perf_counter() - started)
        assert verification.ok and verification.entries_checked == events, verification
        member = uuid.UUID("00000000-0000-4000-9000-000000000007")
        report = ReportFilter(ReportKind.MEMBER_ACCESS, member_id=member)
        started = time.perf_counter()
        page = read_report(db.engine, clinic.schema_name, clinic.id, report, 50)
        report_ms.append((time.perf_counter() - started) * 1000)
        assert len(page) == min(50, events // MEMBERS), len(page)
        print(
            f"  run {run + 1}: generated in {generated:.1f} s, sealed in {seal_s[-1]:.1f} s "
            f"({events / seal_s[-1]:,.0f} events/s), verified in {verify_s[-1]:.1f} s "
            f"({events / verify_s[-1]:,.0f} entries/s), member report page {report_ms[-1]:.0f} ms"
        )
    seal, verify = statistics.median(seal_s), statistics.median(verify_s)
    print(
        f"  median: sealing {events / seal:,.0f} events/s ({seal:.1f} s), verify {verify:.1f} s "
        f"({events / verify:,.0f} entries/s), member report first page {statistics.median(report_ms):.0f} ms"
    )


@contextmanager
def capture(enabled: bool) -> Iterator[None]:
    """Audit capture as shipped, or switched off (this benchmark only)."""
    if enabled:
        yield
        return
    original = Context.audit

    def skip(self: Context, *args: Any, **kwargs: Any) -> None:
        return None

    Context.audit = skip  # type: ignore[method-assign]
    try:
        yield
    finally:
        Context.audit = original  # type: ignore[method-assign]


def bench_capture(db: Database, view_runs: int) -> None:
    settings = load_settings()
    clinic = provision_tenant(db.engine, f"bench-capture-{uuid.uuid4().hex[:6]}", "Bench")
    account = make_account(db, settings, clinic, ["clinician"])
    now = datetime.now(UTC).replace(microsecond=0)
    with tenant_session(db.engine, clinic.schema_name) as session:
        staff_id = add_staff(session, "Facilitator", account.user_id)
        sid = seed_view(session, staff_id, 12, now)["sid"]
    app_engine = create_async_engine(db.url, pool_size=5)
    app = create_app(settings, Database(db.url, db.engine, app_engine))
    headers = {"Authorization": f"Bearer {account.token}"}

    def count_events() -> int:
        with tenant_session(db.engine, clinic.schema_name) as session:
            return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    with TestClient(app) as http:

        def view() -> float:
            started = time.perf_counter()
            body = http.post("/graphql", json={"query": VIEW, "variables": {"id": str(sid)}}, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert "errors" not in body.json(), body.json()
            return elapsed

        timings: dict[bool, list[float]] = {True: [], False: []}
        for enabled in (True, False):  # warm-up
            with capture(enabled):
                view()
        before = count_events()
        for _ in range(view_runs):  # interleaved, so both see the same machine state
            for enabled in (True, False):
                with capture(enabled):
                    timings[enabled].append(view())
        per_request = (count_events() - before) / view_runs
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"documentation view (roster of 12), {view_runs} interleaved runs each")
    print(
        f"  audit capture on:  median {on:.1f} ms ({1000 / on:.1f} req/s), {per_request:.0f} events/request"
    )
    print(f"  audit capture off: median {off:.1f} ms ({1000 / off:.1f} req/s)")
    print(f"  -> capture costs {100 * (on / off - 1):+.1f}% latency (goal: at most +15%)")
    sealing = seal_clinic(db.engine, clinic.schema_name, clinic.id)
    print(f"  ({sealing.sealed} events the view wrote were sealed afterwards)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000, help="events to seal and verify per run")
    parser.add_argument("--runs", type=int, default=3, help="sealing runs (fresh clinics)")
    parser.add_argument("--view-runs", type=int, default=40, help="documentation views per capture setting")
    parser.add_argument("--skip-sealing", action="store_true")
    parser.add_argument("--skip-capture", action="store_true")
    args = parser.parse_args()

    with fresh_database(load_settings()) as db:
        if not args.skip_sealing:
            bench_sealing(db, args.events, args.runs)
        if not args.skip_capture:
            bench_capture(db, args.view_runs)


if __name__ == "__main__":
    main()
