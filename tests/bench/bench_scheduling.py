"""Benchmark: materializing a year of weekly sessions, and the clinician-schedule query.

Run: `.venv/bin/python -m tests.bench.bench_scheduling [--programs 200] [--requests 50]`.
Uses DATABASE_URL or the embedded server; creates and drops its own database.

1. Generates 52 weekly sessions (with facilitator rows, facilitator and room bookings) for each of
   `--programs` programs, each with its own facilitator and room, and prints time and sessions/s.
2. For clinicians leading 1, 5 and 15 groups, counts the SQL statements one `mySchedule` request
   over four weeks runs (SQLAlchemy `before_cursor_execute`) to show it does not grow with the
   number of groups, and prints the median latency for the 15-group clinician.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.programs.models import LevelOfCare, Modality, ProgramKind
from backend.programs.store import add_program, add_series
from backend.scheduling.generate import generate
from backend.settings import load_settings
from backend.staff.store import add_room, add_staff
from backend.tenants.provisioning import provision_tenant
from backend.tenants.routing import tenant_async_session
from tests.support import fresh_database, make_account

START = date(2031, 1, 6)  # a Monday
QUERY = """
query { mySchedule(fromDate: "2031-01-06", toDate: "2031-02-02") {
  id kind programName startsAt endsAt roomName telehealth status attendeeCount
  facilitators { staffId displayName role }
} }"""


def _fields(name: str, lead: uuid.UUID, room: uuid.UUID) -> dict[str, Any]:
    return {
        "name": name, "modality": Modality.DBT_SKILLS, "kind": ProgramKind.OPEN,
        "level_of_care": LevelOfCare.OUTPATIENT, "capacity": 10, "therapeutic_minimum": 4,
        "default_cpt": "90853", "session_minutes": 60, "room_id": room, "telehealth": False,
        "timezone": "America/New_York", "required_credentials": [], "requires_cofacilitator": False,
        "lead_facilitator_id": lead, "cofacilitator_id": None, "substitute_id": None, "starts_on": START,
        "ends_on": START + timedelta(days=364), "fit_criteria": {},
    }  # fmt: skip


async def _program(engine: AsyncEngine, schema: str, lead: uuid.UUID, slot: int, n: int) -> int:
    """One weekly program for `lead` at a distinct weekday/hour (`slot`), in its own transaction."""
    async with tenant_async_session(engine, schema) as session, session.begin():
        room = await add_room(session, f"Room {n}", 10)
        program = add_program(session, _fields(f"Group {n}", lead, room.id), [])
        day, hour = divmod(slot, 3)
        first = datetime.combine(START + timedelta(days=day % 5), datetime.min.time()) + timedelta(
            hours=9 + 2 * hour
        )
        series = add_series(session, program.id, "FREQ=WEEKLY", first, 60)
        await session.flush()
        return len(await generate(session, program, series, START))


async def _staff(engine: AsyncEngine, schema: str, name: str, user_id: uuid.UUID | None) -> uuid.UUID:
    async with tenant_async_session(engine, schema) as session, session.begin():
        return (await add_staff(session, name, user_id, max_per_day=6, max_per_week=30)).id


async def generation(engine: AsyncEngine, schema: str, programs: int) -> None:
    leads = [await _staff(engine, schema, f"Facilitator {i}", None) for i in range(programs)]
    started = time.perf_counter()
    total = 0
    for i, lead in enumerate(leads):
        total += await _program(engine, schema, lead, i % 15, i)
    elapsed = time.perf_counter() - started
    print(
        f"generated {total} sessions for {programs} programs in {elapsed:.2f} s "
        f"({total / elapsed:.0f} sessions/s)"
    )


async def clinicians(engine: AsyncEngine, schema: str, users: dict[int, uuid.UUID]) -> None:
    for groups, user_id in users.items():
        lead = await _staff(engine, schema, f"Clinician with {groups}", user_id)
        for slot in range(groups):
            await _program(engine, schema, lead, slot, 10_000 + groups * 100 + slot)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    settings = load_settings()
    with fresh_database(settings) as db:
        clinic = provision_tenant(db.engine, "bench-clinic", "Bench")
        accounts = {g: make_account(db, settings, clinic, ["clinician"]) for g in (1, 5, 15)}

        async def setup() -> None:
            engine = create_async_engine(db.url)
            try:
                await generation(engine, clinic.schema_name, args.programs)
                await clinicians(engine, clinic.schema_name, {g: a.user_id for g, a in accounts.items()})
            finally:
                await engine.dispose()

        asyncio.run(setup())
        app_engine = create_async_engine(db.url, pool_size=5)
        statements = 0

        @event.listens_for(app_engine.sync_engine, "before_cursor_execute")
        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        app = create_app(settings, Database(db.url, db.engine, app_engine))
        with TestClient(app) as http:
            for groups, account in accounts.items():
                headers = {"Authorization": f"Bearer {account.token}"}
                http.post("/graphql", json={"query": QUERY}, headers=headers)  # warm-up
                statements = 0
                body = http.post("/graphql", json={"query": QUERY}, headers=headers).json()
                assert "errors" not in body, body
                sessions = len(body["data"]["mySchedule"])
                print(
                    f"mySchedule, {groups:>2} groups: {sessions:>3} sessions in 4 weeks, "
                    f"{statements} SQL statements"
                )
            headers = {"Authorization": f"Bearer {accounts[15].token}"}
            samples = []
            for _ in range(args.requests):
                started = time.perf_counter()
                http.post("/graphql", json={"query": QUERY}, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
            print(
                f"mySchedule, 15 groups: median {statistics.median(samples):.1f} ms, "
                f"p90 {statistics.quantiles(samples, n=10)[-1]:.1f} ms over {args.requests} requests"
            )


if __name__ == "__main__":
    main()
