"""Programs, clients, members, sessions and waitlist entries written straight through the ORM."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend.clients.models import Client
from backend.enrollment.models import Enrollment, EnrollmentStatus
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import GroupSession, SessionKind, SessionStatus
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import Urgency, WaitlistStatus


def make_program(session: Session, **overrides: Any) -> Program:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "Evening skills group",
        "modality": Modality.DBT_SKILLS,
        "kind": ProgramKind.OPEN,
        "level_of_care": LevelOfCare.OUTPATIENT,
        "capacity": 8,
        "therapeutic_minimum": 1,
        "default_cpt": "90853",
        "session_minutes": 90,
        "telehealth": True,
        "timezone": "America/New_York",
        "starts_on": date(2026, 1, 5),
        "fit_criteria": {},
    }
    values.update(overrides)
    program = Program(**values)
    session.add(program)
    session.flush()
    return program


def make_client(session: Session, email: str | None = None, name: str = "Ola") -> Client:
    client = Client(
        id=uuid.uuid4(), first_name=name, last_name="Berg", date_of_birth=date(1985, 5, 5), email=email
    )
    session.add(client)
    session.flush()
    return client


def make_member(
    session: Session,
    program: Program,
    starts_on: date = date(2026, 1, 5),
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    client: Client | None = None,
) -> Enrollment:
    client = client or make_client(session)
    enrollment = Enrollment(
        id=uuid.uuid4(), program_id=program.id, client_id=client.id, status=status, starts_on=starts_on
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def make_entry(
    session: Session, program: Program, client: Client | None = None, **overrides: Any
) -> WaitlistEntry:
    client = client or make_client(session)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "program_id": program.id,
        "client_id": client.id,
        "status": WaitlistStatus.WAITING,
        "added_on": date.today() - timedelta(days=30),
        "urgency": Urgency.ROUTINE,
        "diagnoses": [],
        "availability": [],
        "screening": {},
        "contraindications": [],
        "high_acuity": False,
    }
    values.update(overrides)
    entry = WaitlistEntry(**values)
    session.add(entry)
    session.flush()
    return entry


def make_session(session: Session, program: Program, starts_at: datetime) -> GroupSession:
    group_session = GroupSession(
        id=uuid.uuid4(),
        program_id=program.id,
        kind=SessionKind.GROUP,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=program.session_minutes),
        telehealth=True,
        status=SessionStatus.SCHEDULED,
    )
    session.add(group_session)
    session.flush()
    return group_session


def next_weekday_at(weekday: int, hour_utc: int) -> datetime:
    """The next date (after today) falling on `weekday`, at `hour_utc` UTC."""
    today = datetime.now(UTC).date()
    days = (weekday - today.weekday()) % 7 or 7
    day = today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)
