"""Enrolling over real PostgreSQL: capacity under concurrency, waitlisting, admission, roster effects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from backend.database import Database
from backend.enrollment.models import (
    Attendance,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    SessionAttendee,
)
from backend.enrollment.rules import Enrolled, Waitlisted
from backend.enrollment.store import change_status, end_enrollment, enroll
from backend.errors import InputRejected
from backend.programs.models import ProgramKind
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_async_engine, tenant_session
from backend.waitlist.models import WaitlistEntry
from backend.workers.outbox import OutboxMessage
from tests.enrollment.factories import ZONE, make_clients, make_program, make_sessions, weeks_ago

T = TypeVar("T")


@pytest.fixture
def async_engine(database: Database) -> Iterator[AsyncEngine]:
    engine = create_async_engine(database.url, poolclass=NullPool, hide_parameters=True)
    yield engine
    asyncio.run(engine.dispose())


def local_today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def in_clinic(engine: AsyncEngine, clinic: Tenant, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction of its own connection."""

    async def run() -> T:
        bound = tenant_async_engine(engine, clinic.schema_name)
        async with AsyncSession(bound, expire_on_commit=False) as s, s.begin():
            return await work(s)

    return asyncio.run(run())


def test_fifty_simultaneous_enrollments_into_eight_places_admit_exactly_eight(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """50 sessions on 50 connections race; the program-row lock admits 8 and waitlists 42."""
    clinic = make_clinic()
    program_id = make_program(database.engine, clinic.schema_name, capacity=8)
    clients = make_clients(database.engine, clinic.schema_name, 50)
    engine = tenant_async_engine(async_engine, clinic.schema_name)

    async def one(client_id: uuid.UUID) -> Enrolled | Waitlisted:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            return await enroll(
                session,
                program_id=program_id,
                client_id=client_id,
                starts_on=local_today(),
                actor_user_id=None,
            )

    async def race() -> list[Enrolled | Waitlisted]:
        return await asyncio.gather(*(one(c) for c in clients))

    results = asyncio.run(race())
    assert sum(isinstance(r, Enrolled) for r in results) == 8
    assert sum(isinstance(r, Waitlisted) for r in results) == 42
    with tenant_session(database.engine, clinic.schema_name) as session:
        active = session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.status == "active")
        )
        waiting = session.scalar(select(func.count()).select_from(WaitlistEntry))
    assert (active, waiting) == (8, 42)


def test_outstanding_offers_hold_places_and_the_accepted_offer_is_not_counted_twice(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """With 1 place and 1 live offer a newcomer is waitlisted; the offered client gets the place."""
    clinic = make_clinic()
    program_id = make_program(database.engine, clinic.schema_name, capacity=1)
    offered, newcomer = make_clients(database.engine, clinic.schema_name, 2)
    entry_id = uuid.uuid4()
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.add(
            WaitlistEntry(
                id=entry_id,
                program_id=program_id,
                client_id=offered,
                status="offered",
                added_on=local_today(),
                offered_at=datetime.now(UTC),
                offer_expires_at=datetime.now(UTC) + timedelta(days=2),
            )
        )

    def enroll_(client_id: uuid.UUID, offer: uuid.UUID | None) -> Callable[[AsyncSession], Awaitable[object]]:
        async def work(s: AsyncSession) -> object:
            return await enroll(
                s,
                program_id=program_id,
                client_id=client_id,
                starts_on=local_today(),
                actor_user_id=None,
                offer_entry_id=offer,
            )

        return work

    assert isinstance(in_clinic(async_engine, clinic, enroll_(newcomer, None)), Waitlisted)
    assert isinstance(in_clinic(async_engine, clinic, enroll_(offered, entry_id)), Enrolled)


def test_closed_program_admits_only_inside_its_window(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """Outside every admission window the error names startsOn and nothing is stored."""
    clinic = make_clinic()
    today = local_today()
    program_id = make_program(
        database.engine,
        clinic.schema_name,
        kind=ProgramKind.CLOSED,
        starts_on=today - timedelta(days=30),
        windows=[(today - timedelta(days=30), today - timedelta(days=20))],
    )
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    async def work(s: AsyncSession) -> object:
        return await enroll(
            s, program_id=program_id, client_id=client_id, starts_on=today, actor_user_id=None
        )

    with pytest.raises(InputRejected) as rejected:
        in_clinic(async_engine, clinic, work)
    assert [(p.field, p.code) for p in rejected.value.problems] == [("startsOn", "admission_closed")]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(Enrollment)).all() == []


def test_enrolling_twice_and_unknown_clients_are_rejected_by_field(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """An open enrollment already there is already_enrolled; an unknown client is not_found."""
    clinic = make_clinic()
    program_id = make_program(database.engine, clinic.schema_name)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    def attempt(cid: uuid.UUID) -> Callable[[AsyncSession], Awaitable[object]]:
        async def work(s: AsyncSession) -> object:
            return await enroll(
                s, program_id=program_id, client_id=cid, starts_on=local_today(), actor_user_id=None
            )

        return work

    in_clinic(async_engine, clinic, attempt(client_id))
    for cid, code in ((client_id, "already_enrolled"), (uuid.uuid4(), "not_found")):
        with pytest.raises(InputRejected) as rejected:
            in_clinic(async_engine, clinic, attempt(cid))
        assert [(p.field, p.code) for p in rejected.value.problems] == [("clientId", code)]


def roster_of(database: Database, clinic: Tenant, client_id: uuid.UUID) -> set[uuid.UUID]:
    with tenant_session(database.engine, clinic.schema_name) as session:
        return set(
            session.scalars(select(SessionAttendee.session_id).where(SessionAttendee.client_id == client_id))
        )


def test_a_member_added_mid_series_joins_every_future_session_only(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """Three past and three future weekly sessions: enrolling today adds the three future ones."""
    clinic = make_clinic()
    program_id = make_program(
        database.engine, clinic.schema_name, starts_on=local_today() - timedelta(weeks=8)
    )
    sessions = make_sessions(database.engine, clinic.schema_name, program_id, weeks_ago(3), 7)
    past, future = sessions[:3], sessions[4:]
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    async def work(s: AsyncSession) -> object:
        return await enroll(
            s,
            program_id=program_id,
            client_id=client_id,
            starts_on=local_today() + timedelta(days=1),
            actor_user_id=None,
        )

    in_clinic(async_engine, clinic, work)
    assert roster_of(database, clinic, client_id) == set(future)
    assert not roster_of(database, clinic, client_id) & set(past)


def test_ending_an_enrollment_takes_the_member_off_later_sessions_only(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """Sessions up to the end date stay (and attended ones always stay); later ones are trimmed."""
    clinic = make_clinic()
    start = local_today() - timedelta(weeks=5)
    program_id = make_program(database.engine, clinic.schema_name, starts_on=start)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    async def add(s: AsyncSession) -> Enrolled | Waitlisted:
        return await enroll(
            s, program_id=program_id, client_id=client_id, starts_on=start, actor_user_id=None
        )

    enrolled = in_clinic(async_engine, clinic, add)
    assert isinstance(enrolled, Enrolled)
    sessions = make_sessions(database.engine, clinic.schema_name, program_id, weeks_ago(2), 5)
    in_clinic(async_engine, clinic, lambda s: _fill(s, program_id))
    assert roster_of(database, clinic, client_id) == set(sessions)
    with tenant_session(database.engine, clinic.schema_name) as session:
        attended = session.get_one(SessionAttendee, (sessions[0], client_id))
        attended.attendance = Attendance.PRESENT

    async def end(s: AsyncSession) -> Enrollment:
        return await end_enrollment(
            s, enrollment_id=enrolled.enrollment_id, ends_on=local_today(), actor_user_id=None
        )

    in_clinic(async_engine, clinic, end)
    assert roster_of(database, clinic, client_id) == set(sessions[:3])


async def _fill(session: AsyncSession, program_id: uuid.UUID) -> None:
    from backend.enrollment.roster import fill_roster

    await fill_roster(session, program_id)


def test_dropping_an_active_member_records_history_trims_and_announces_the_free_place(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """The event names both statuses; a waitlist.slot_opened outbox row carries the program id only."""
    clinic = make_clinic()
    program_id = make_program(
        database.engine, clinic.schema_name, starts_on=local_today() - timedelta(weeks=4)
    )
    sessions = make_sessions(database.engine, clinic.schema_name, program_id, weeks_ago(-1), 3)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)

    async def add(s: AsyncSession) -> Enrolled | Waitlisted:
        return await enroll(
            s, program_id=program_id, client_id=client_id, starts_on=local_today(), actor_user_id=None
        )

    enrolled = in_clinic(async_engine, clinic, add)
    assert isinstance(enrolled, Enrolled)
    assert roster_of(database, clinic, client_id) == set(sessions)

    async def drop(s: AsyncSession) -> Enrollment:
        return await change_status(
            s,
            enrollment_id=enrolled.enrollment_id,
            to=EnrollmentStatus.DROPPED,
            effective_on=local_today(),
            reason="moved away",
            actor_user_id=None,
        )

    in_clinic(async_engine, clinic, drop)
    assert roster_of(database, clinic, client_id) == set()
    with tenant_session(database.engine, clinic.schema_name) as session:
        events = session.scalars(select(EnrollmentEvent).order_by(EnrollmentEvent.occurred_at)).all()
        outbox = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "waitlist.slot_opened")
        ).all()
        enrollment = session.get_one(Enrollment, enrolled.enrollment_id)
    assert [(e.from_status, e.to_status) for e in events] == [(None, "active"), ("active", "dropped")]
    assert [(m.kind, m.payload) for m in outbox] == [
        ("waitlist.slot_opened", {"program_id": str(program_id)})
    ]
    assert enrollment.ends_on == local_today()

    with pytest.raises(InputRejected) as rejected:
        in_clinic(async_engine, clinic, drop)
    assert [p.code for p in rejected.value.problems] == ["final_status"]


def test_a_drop_in_who_enrolls_has_that_session_counted_in_the_enrollment(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """The drop-in row on a covered session is adopted by the enrollment, not duplicated."""
    clinic = make_clinic()
    program_id = make_program(
        database.engine, clinic.schema_name, starts_on=local_today() - timedelta(weeks=4)
    )
    sessions = make_sessions(database.engine, clinic.schema_name, program_id, weeks_ago(-1), 2)
    (client_id,) = make_clients(database.engine, clinic.schema_name, 1)
    with tenant_session(database.engine, clinic.schema_name) as session:
        session.add(SessionAttendee(session_id=sessions[0], client_id=client_id, enrollment_id=None))

    async def add(s: AsyncSession) -> Enrolled | Waitlisted:
        return await enroll(
            s, program_id=program_id, client_id=client_id, starts_on=local_today(), actor_user_id=None
        )

    enrolled = in_clinic(async_engine, clinic, add)
    assert isinstance(enrolled, Enrolled)
    with tenant_session(database.engine, clinic.schema_name) as session:
        rows = session.scalars(select(SessionAttendee).where(SessionAttendee.client_id == client_id)).all()
    assert sorted((r.session_id, r.enrollment_id) for r in rows) == sorted(
        (s, enrolled.enrollment_id) for s in sessions
    )


def test_a_member_on_hold_returns_only_when_a_place_is_free(
    database: Database, async_engine: AsyncEngine, make_clinic: Callable[..., Tenant]
) -> None:
    """Holds do not count toward capacity, so a place taken meanwhile blocks the return (field `to`)."""
    clinic = make_clinic()
    program_id = make_program(database.engine, clinic.schema_name, capacity=1)
    held, newcomer = make_clients(database.engine, clinic.schema_name, 2)

    def enroll_(client_id: uuid.UUID) -> Callable[[AsyncSession], Awaitable[Enrolled | Waitlisted]]:
        async def work(s: AsyncSession) -> Enrolled | Waitlisted:
            return await enroll(
                s, program_id=program_id, client_id=client_id, starts_on=local_today(), actor_user_id=None
            )

        return work

    def change(
        enrollment_id: uuid.UUID, to: EnrollmentStatus
    ) -> Callable[[AsyncSession], Awaitable[Enrollment]]:
        async def work(s: AsyncSession) -> Enrollment:
            return await change_status(
                s,
                enrollment_id=enrollment_id,
                to=to,
                effective_on=local_today(),
                reason=None,
                actor_user_id=None,
            )

        return work

    first = in_clinic(async_engine, clinic, enroll_(held))
    assert isinstance(first, Enrolled)
    in_clinic(async_engine, clinic, change(first.enrollment_id, EnrollmentStatus.ON_HOLD_CLINICAL))
    second = in_clinic(async_engine, clinic, enroll_(newcomer))
    assert isinstance(second, Enrolled)
    with pytest.raises(InputRejected) as rejected:
        in_clinic(async_engine, clinic, change(first.enrollment_id, EnrollmentStatus.ACTIVE))
    assert [(p.field, p.code) for p in rejected.value.problems] == [("to", "program_full")]
    in_clinic(async_engine, clinic, change(second.enrollment_id, EnrollmentStatus.GRADUATED))
    back = in_clinic(async_engine, clinic, change(first.enrollment_id, EnrollmentStatus.ACTIVE))
    assert back.status == EnrollmentStatus.ACTIVE
