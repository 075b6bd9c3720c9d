"""Programs, sessions and clients made directly with the ORM (until createProgram exists)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from backend.clients.models import Client
from backend.programs.models import AdmissionWindow, LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import GroupSession, SessionKind, SessionStatus
from backend.tenants.routing import tenant_session

ZONE = "America/New_York"


def make_program(
    engine: Engine,
    schema: str,
    *,
    capacity: int = 8,
    kind: ProgramKind = ProgramKind.OPEN,
    starts_on: date = date(2026, 1, 5),
    ends_on: date | None = None,
    windows: list[tuple[date, date]] | None = None,
) -> uuid.UUID:
    program_id = uuid.uuid4()
    with tenant_session(engine, schema) as session:
        session.add(
            Program(
                id=program_id,
                name="DBT skills",
                modality=Modality.DBT_SKILLS,
                kind=kind,
                level_of_care=LevelOfCare.OUTPATIENT,
                capacity=capacity,
                therapeutic_minimum=min(3, capacity),
                default_cpt="90853",
                session_minutes=90,
                timezone=ZONE,
                required_credentials=[],
                starts_on=starts_on,
                ends_on=ends_on,
                fit_criteria={},
            )
        )
        session.flush()
        for opens_on, closes_on in windows or []:
            session.add(AdmissionWindow(program_id=program_id, opens_on=opens_on, closes_on=closes_on))
    return program_id


def make_sessions(
    engine: Engine,
    schema: str,
    program_id: uuid.UUID,
    first: datetime,
    count: int,
    *,
    every: timedelta = timedelta(weeks=1),
) -> list[uuid.UUID]:
    """`count` scheduled sessions from `first` (UTC), one every `every`."""
    ids = [uuid.uuid4() for _ in range(count)]
    with tenant_session(engine, schema) as session:
        for i, session_id in enumerate(ids):
            starts = first + i * every
            session.add(
                GroupSession(
                    id=session_id,
                    program_id=program_id,
                    kind=SessionKind.GROUP,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=90),
                    status=SessionStatus.SCHEDULED,
                )
            )
    return ids


def make_clients(engine: Engine, schema: str, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with tenant_session(engine, schema) as session:
        for i, client_id in enumerate(ids):
            session.add(
                Client(
                    id=client_id, first_name=f"Member{i}", last_name="Test", date_of_birth=date(1990, 1, 1)
                )
            )
    return ids


def weeks_ago(n: int) -> datetime:
    """A 6 pm New York session start `n` weeks before today in New York (negative: in the future).

    The day is the clinic's, not UTC's: in the New York evening UTC is already on tomorrow, and a
    session "today" must fall on the clinic's today for enrollment dates to cut the series right.
    """
    day = datetime.now(ZoneInfo(ZONE)).date() - timedelta(weeks=n)
    return datetime.combine(day, time(18), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
