"""Benchmark: rank a waitlist of 5,000 entries against one open place. Not collected by pytest.

    python -m tests.bench.bench_waitlist [--entries 5000] [--repeats 30]

Prints the median (and p90), side by side in one run, of: the offer for one open place
(`load_ranking(limit=1)`: PostgreSQL orders the entries, one is loaded and explained, plus members,
offers, separations, sessions and history) -- the goal, under 50 ms; the GraphQL ranking's first
page (limit=50); the pure Python ranking of all entries; the full load of every entry; and the
fetch of every row alone (the floor of any load-everything design).
Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

from sqlalchemy import insert, select, text

from backend.clients.models import Client
from backend.database import utcnow
from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.programs.models import Program
from backend.settings import load_settings
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import Separation, WaitlistEntry
from backend.waitlist.ranking import rank
from backend.waitlist.ranking_query import CANDIDATE_COLUMNS, waiting_entries
from backend.waitlist.rules import AvailabilityWindow, Urgency, WaitlistStatus
from backend.waitlist.snapshot import load_candidates, load_ranking
from tests.support import fresh_database
from tests.waitlist.factories import make_program, make_session

DIAGNOSES = ["F33.1", "F43.10", "F41.1", "F60.3", "F90.0", "F32.A"]


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seed(session: object, entries: int) -> Program:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    rng = random.Random(7)
    program = make_program(
        session,
        capacity=12,
        fit_criteria={"diagnoses": ["F33", "F43.1"]},
        max_high_acuity=3,
        max_new_members_per_session=2,
    )
    start = datetime.now(UTC) + timedelta(days=1)
    for week in range(4):
        make_session(session, program, start + timedelta(weeks=week))
    clients = [
        {"id": uuid.uuid4(), "first_name": "C", "last_name": f"{i}", "date_of_birth": date(1980, 1, 1)}
        for i in range(entries + 11)
    ]
    session.execute(insert(Client), clients)
    today = date.today()
    session.execute(
        insert(Enrollment),
        [
            {
                "id": uuid.uuid4(),
                "program_id": program.id,
                "client_id": c["id"],
                "status": EnrollmentStatus.ACTIVE,
                "starts_on": today - timedelta(days=rng.randint(1, 180)),
            }
            for c in clients[:11]
        ],
    )
    rows = []
    for c in clients[11:]:
        windows = [
            AvailabilityWindow(
                rng.randint(0, 6), clock(rng.randint(8, 17)), clock(rng.randint(18, 22))
            ).as_json()
            for _ in range(rng.randint(0, 3))
        ]
        rows.append(
            {
                "id": uuid.uuid4(),
                "program_id": program.id,
                "client_id": c["id"],
                "status": WaitlistStatus.WAITING,
                "added_on": today - timedelta(days=rng.randint(0, 400)),
                "urgency": rng.choice(list(Urgency)),
                "diagnoses": rng.sample(DIAGNOSES, rng.randint(0, 2)),
                "availability": windows,
                "screening": {},
                "contraindications": ["active_psychosis"] if rng.random() < 0.02 else [],
                "high_acuity": rng.random() < 0.2,
                "created_at": utcnow(),
            }
        )
    session.execute(insert(WaitlistEntry), rows)
    session.execute(
        insert(Separation),
        [{"client_a": clients[i]["id"], "client_b": clients[11 + i]["id"]} for i in range(11)],
    )
    return program


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with fresh_database(load_settings(), pool_size=2) as db:
        clinic = provision_tenant(db.engine, "bench-waitlist", "Bench")
        with tenant_session(db.engine, clinic.schema_name) as session:
            program = seed(session, args.entries)
        # A steady-state table: statistics known, visibility map set (autovacuum's job in production).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        with tenant_session(db.engine, clinic.schema_name) as session:
            program = session.get_one(Program, program.id)
            now = utcnow()
            snapshot = load_ranking(session, program, now)
            candidates = load_candidates(session, program.id)
            pure = timed(lambda: rank(candidates, snapshot.context, snapshot.today), args.repeats)
            offer = timed(lambda: load_ranking(session, program, now, limit=1), args.repeats)
            page = timed(lambda: load_ranking(session, program, now, limit=50), args.repeats)
            loaded = timed(lambda: load_ranking(session, program, now), args.repeats)
            # The floor under the DB figure: fetching the candidate rows, building nothing.
            fetch = timed(
                lambda: (
                    session.connection()
                    .execute(select(*CANDIDATE_COLUMNS).where(*waiting_entries(program.id)))
                    .all()
                ),
                args.repeats,
            )
        eligible = sum(1 for r in snapshot.ranked if r.eligible)
        print(f"waitlist ranking, {len(candidates)} entries ({eligible} eligible), {args.repeats} repeats")
        figures = (
            ("offer: top 1 incl. DB", offer),
            ("ranking page: top 50", page),
            ("pure ranking, all", pure),
            ("load + rank all", loaded),
            ("fetch all rows only", fetch),
        )
        for what, samples in figures:
            p90 = statistics.quantiles(samples, n=10)[-1]
            print(f"  {what:<24} median {statistics.median(samples):7.2f} ms   p90 {p90:7.2f} ms")


if __name__ == "__main__":
    main()
