"""PostgreSQL's offer order equals the Python ranking's, so loading only the top entries is safe."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import pytest
from sqlalchemy.orm import Session

from backend.database import Database, utcnow
from backend.enrollment.models import EnrollmentStatus
from backend.programs.models import Program
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import Separation
from backend.waitlist.rules import AvailabilityWindow, Urgency
from backend.waitlist.snapshot import load_ranking
from tests.waitlist.factories import make_client, make_entry, make_member, make_program, make_session

CODES = ["F33.1", "F43.10", "F41.1", "F60.3", "F90.0", "F32.A"]


def _random_waitlist(session: Session, rng: random.Random, sessions_a_week: int) -> Program:
    program = make_program(
        session,
        capacity=10,
        fit_criteria={"diagnoses": rng.choice([[], ["F33", "F43.1"], ["F41"]])},
        max_high_acuity=rng.choice([None, 1, 3]),
        max_new_members_per_session=rng.choice([None, 2, 3]),
        timezone="UTC",
    )
    members = [make_member(session, program, starts_on=date.today() - timedelta(days=3)) for _ in range(4)]
    make_member(session, program, status=EnrollmentStatus.ON_HOLD_CLINICAL)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for day in range(sessions_a_week):
        # Distinct weekly times, some on the half hour or off the minute (8 slots give availability
        # a half-cent case).
        at = start + timedelta(days=day % 7, hours=9 + day, minutes=30 * (day % 2), seconds=17 * (day % 3))
        make_session(session, program, at)
    for i in range(300):
        client = make_client(session)
        windows = [
            AvailabilityWindow(
                rng.randint(0, 6), clock(rng.randint(6, 12)), clock(rng.randint(13, 23))
            ).as_json()
            for _ in range(rng.choice([0, 1, 2, 3, 7]))
        ]
        make_entry(
            session,
            program,
            client,
            added_on=date.today() - timedelta(days=rng.choice([0, 1, 7, 90, 179, 180, 400])),
            urgency=rng.choice(list(Urgency)),
            diagnoses=rng.sample(CODES, rng.randint(0, 2)),
            availability=windows,
            contraindications=["active_psychosis"] if rng.random() < 0.05 else [],
            high_acuity=rng.random() < 0.3,
        )
        if i % 40 == 0:
            session.add(Separation(client_a=client.id, client_b=members[i % 4].client_id))
    session.flush()
    return program


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_top_entries_from_postgres_are_the_python_ranking_s_first_ones(
    database: Database, make_clinic: Callable[..., Tenant], seed: int
) -> None:
    """For random waitlists, ids, scores and ranks of the SQL-ordered top entries equal rank()'s."""
    rng = random.Random(seed)
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = _random_waitlist(session, rng, sessions_a_week=[1, 3, 8][seed - 1])
        now = utcnow()
        full = load_ranking(session, program, now)
        for limit in (1, 40, 300):
            top = load_ranking(session, program, now, limit=limit)
            assert [(r.candidate.entry_id, r.score, r.rank, r.blocked_by) for r in top.ranked] == [
                (r.candidate.entry_id, r.score, r.rank, r.blocked_by) for r in full.ranked[:limit]
            ]
            assert top.waiting == full.waiting == 300
        assert any(not r.eligible for r in full.ranked), "the data should include blocked candidates"


def test_excluded_entries_are_neither_ranked_nor_counted(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The entry whose offer just lapsed is skipped: the next candidate becomes first."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = _random_waitlist(session, random.Random(9), sessions_a_week=2)
        now = utcnow()
        first, second = load_ranking(session, program, now, limit=2).ranked
        without = load_ranking(session, program, now, limit=1, exclude={first.candidate.entry_id})
        assert [r.candidate.entry_id for r in without.ranked] == [second.candidate.entry_id]
        assert without.waiting == 299
        assert uuid.UUID(str(first.candidate.entry_id)) not in {r.candidate.entry_id for r in without.ranked}
