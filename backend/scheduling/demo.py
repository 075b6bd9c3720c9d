"""Demo schedule for the quick start: staff records, a room and one weekly DBT skills group."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.programs.store import add_program, add_series
from backend.scheduling.generate import generate
from backend.staff.models import Room
from backend.staff.store import add_room, add_staff, set_credential, staff_for_user
from backend.tenants.routing import tenant_async_session

DEMO_PROGRAM = "DBT Skills Group"


def load_demo_schedule(engine: Engine, schema: str, staff_users: dict[str, uuid.UUID]) -> None:
    """Idempotent: staff missing a record get one, and the program is created once.

    `staff_users` maps "clinician", "supervisor" and "trainee" to their user ids.
    """
    asyncio.run(_load(engine, schema, staff_users))


async def _load(engine: Engine, schema: str, staff_users: dict[str, uuid.UUID]) -> None:
    async_engine = create_async_engine(engine.url, poolclass=NullPool)
    try:
        async with tenant_async_session(async_engine, schema) as session, session.begin():
            staff_ids: dict[str, uuid.UUID] = {}
            for role, user_id in staff_users.items():
                staff = await staff_for_user(session, user_id)
                if staff is None:
                    staff = await add_staff(session, role.title(), user_id)
                    await set_credential(session, staff.id, "DBT", None)
                staff_ids[role] = staff.id
            if await session.scalar(select(Program.id).where(Program.name == DEMO_PROGRAM)) is not None:
                return
            room = await session.scalar(select(Room).where(Room.name == "Group Room 1"))
            if room is None:
                room = await add_room(session, "Group Room 1", 12)
            today = date.today()
            tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
            program = add_program(
                session,
                {
                    "name": DEMO_PROGRAM, "modality": Modality.DBT_SKILLS, "kind": ProgramKind.OPEN,
                    "level_of_care": LevelOfCare.OUTPATIENT, "capacity": 10, "therapeutic_minimum": 4,
                    "default_cpt": "90853", "session_minutes": 90, "room_id": room.id, "telehealth": False,
                    "timezone": "America/New_York", "required_credentials": ["DBT"],
                    "requires_cofacilitator": False, "lead_facilitator_id": staff_ids.get("clinician"),
                    "cofacilitator_id": staff_ids.get("trainee"),
                    "substitute_id": staff_ids.get("supervisor"),
                    "starts_on": tuesday, "ends_on": tuesday + timedelta(weeks=26), "fit_criteria": {},
                },
                [],
            )  # fmt: skip
            series = add_series(
                session, program.id, "FREQ=WEEKLY;BYDAY=TU", datetime.combine(tuesday, time(18)), 90
            )
            await session.flush()
            await generate(session, program, series, tuesday)
    finally:
        await async_engine.dispose()
