"""Benchmarks: provisioning one clinic, and migrate-all over 1,000 clinics with nothing to do and
with one new revision. Not collected by pytest.

    python -m tests.bench.bench_tenants [--clinics 1000] [--samples 20] [--parallel 4]

Creates a throwaway database on DATABASE_URL (default: the embedded server) and drops it after.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from backend.settings import load_settings
from backend.tenants.migrations import MigrationReport, migrate_tenants, script_directory, single_head
from backend.tenants.provisioning import provision_tenant
from tests.support import fresh_database

REVISION = '''"""Benchmark-only revision: one nullable column."""

import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade(op):
    op.add_column("clients", sa.Column({column!r}, sa.String(40), nullable=True))


def downgrade(op):
    op.drop_column("clients", {column!r})
'''


@dataclass(frozen=True)
class Row:
    what: str
    runs: int
    median_s: float
    note: str = ""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def slug() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def add_revision(directory: Path, down: str, n: int) -> ScriptDirectory:
    """One more benchmark revision on top of `down`; returns the tenant tree extended with them."""
    revision = f"bench_{n:04d}"
    (directory / f"{revision}.py").write_text(
        REVISION.format(revision=revision, down=down, column=f"bench_note_{n}")
    )
    return script_directory("tenant", extra_version_locations=[directory])


def migrate_with_timings(
    engine: Engine, script: ScriptDirectory, parallel: int
) -> tuple[float, list[float], MigrationReport]:
    """Wall time, time between consecutive completed clinics, and the report."""
    stamps: list[float] = []
    start = time.perf_counter()
    report = migrate_tenants(
        engine,
        script=script,
        parallel=parallel,
        progress=lambda _done, _total: stamps.append(time.perf_counter()),
    )
    wall = time.perf_counter() - start
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return wall, gaps, report


def run(engine: Engine, clinics: int, samples: int, parallel: int) -> list[Row]:
    rows: list[Row] = []
    provision_times = [
        timed(lambda: provision_tenant(engine, slug(), "Bench Clinic")) for _ in range(samples)
    ]
    rows.append(
        Row(
            "provision one clinic",
            samples,
            statistics.median(provision_times),
            f"max {max(provision_times):.3f} s",
        )
    )

    rest = clinics - samples
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(lambda _: provision_tenant(engine, slug(), "Bench Clinic"), range(rest)))
    elapsed = time.perf_counter() - start
    rows.append(
        Row(f"provision {rest} more ({parallel} threads)", 1, elapsed, f"{rest / elapsed:.0f} clinics/s")
    )

    noop = [timed(lambda: migrate_tenants(engine)) for _ in range(5)]
    rows.append(Row(f"migrate {clinics} clinics, all at head", len(noop), statistics.median(noop)))

    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        script = add_revision(directory, single_head(script_directory("tenant")), 1)
        wall, gaps, report = migrate_with_timings(engine, script, 1)
        assert report.ok and len(report.migrated) == clinics, report.failed[:3]
        rows.append(
            Row(
                f"migrate {clinics} clinics, 1 new revision",
                1,
                wall,
                f"per clinic median {statistics.median(gaps) * 1000:.1f} ms",
            )
        )

        script = add_revision(directory, single_head(script), 2)
        wall, gaps, report = migrate_with_timings(engine, script, parallel)
        assert report.ok and len(report.migrated) == clinics, report.failed[:3]
        rows.append(
            Row(
                f"migrate {clinics} clinics, 1 new revision, parallel={parallel}",
                1,
                wall,
                f"{clinics / wall:.0f} clinics/s",
            )
        )

        noop = [timed(lambda: migrate_tenants(engine, script=script)) for _ in range(5)]
        rows.append(
            Row(f"migrate {clinics} clinics, all at the new head", len(noop), statistics.median(noop))
        )
    return rows


def print_table(rows: list[Row], server: str) -> None:
    width = max(len(r.what) for r in rows)
    print(f"\nTenant benchmarks on {server}")
    print(f"{'measure'.ljust(width)}  runs  median (s)  note")
    print(f"{'-' * width}  ----  ----------  ----")
    for r in rows:
        print(f"{r.what.ljust(width)}  {r.runs:>4}  {r.median_s:>10.3f}  {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20, help="clinics provisioned one by one and timed")
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()

    with fresh_database(load_settings(), pool_size=args.parallel + 1) as db:
        rows = run(db.engine, args.clinics, args.samples, args.parallel)
        with db.engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
    print_table(rows, f"PostgreSQL {version} ({make_url(db.url).host or 'unix socket'})")


if __name__ == "__main__":
    main()
