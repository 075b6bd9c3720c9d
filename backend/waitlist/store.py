"""Reading and writing waitlist entries in the caller's clinic schema."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clinic.store import clinic_today
from backend.errors import FieldProblem, InputRejected
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import (
    WaitlistDetails,
    WaitlistStatus,
    normalized,
    validate_details,
)

OPEN_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
ALREADY_WAITING = FieldProblem("clientId", "already_waiting", "is already on this program's waitlist")


async def open_entry(
    session: AsyncSession, program_id: uuid.UUID, client_id: uuid.UUID
) -> WaitlistEntry | None:
    """The client's waiting or offered entry for the program, if any."""
    stmt = select(WaitlistEntry).where(
        WaitlistEntry.program_id == program_id,
        WaitlistEntry.client_id == client_id,
        WaitlistEntry.status.in_(OPEN_STATUSES),
    )
    return (await session.scalars(stmt)).one_or_none()


async def add_entry(
    session: AsyncSession,
    *,
    program_id: uuid.UUID,
    client_id: uuid.UUID,
    details: WaitlistDetails | None,
    added_on: date | None = None,
    field_prefix: str = "waitlist",
) -> WaitlistEntry:
    """Put a client on a program's waitlist (WAITING), or raise `InputRejected` naming the field.

    The caller has checked that program and client exist. A client waits at most once per
    program: the partial unique index decides under concurrency, mapped to `already_waiting`.
    """
    details = details or WaitlistDetails()
    problems = validate_details(details, field_prefix)
    if problems:
        raise InputRejected(problems)
    details = normalized(details)
    if await open_entry(session, program_id, client_id) is not None:
        raise InputRejected([ALREADY_WAITING])
    entry = WaitlistEntry(
        id=uuid.uuid4(),
        program_id=program_id,
        client_id=client_id,
        status=WaitlistStatus.WAITING,
        added_on=added_on or await clinic_today(session),
        **details_columns(details),
    )
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError as exc:
        if "uq_waitlist_entries_open" in str(exc.orig):
            raise InputRejected([ALREADY_WAITING]) from None
        raise
    return entry


def details_columns(details: WaitlistDetails) -> dict[str, object]:
    """The entry's column values for `details` (validated and normalized)."""
    return {
        "urgency": details.urgency,
        "diagnoses": list(details.diagnoses),
        "availability": [window.as_json() for window in details.availability],
        "referrer_name": details.referrer_name,
        "referrer_contact": details.referrer_contact,
        "screening": dict(details.screening),
        "contraindications": list(details.contraindications),
        "high_acuity": details.high_acuity,
    }
