"""Enrolling clients and changing enrollment status in the caller's clinic schema.

Capacity is decided under a lock on the program row (`SELECT ... FOR UPDATE`): every enrollment
into one program is serialized there, so concurrent requests never admit more active members
than the program's capacity; the ones that find it full are placed on the waitlist instead.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.billing.eligibility_checks import CheckReason, request_check
from backend.clients.models import Client
from backend.database import utcnow
from backend.enrollment.models import Enrollment, EnrollmentEvent, EnrollmentStatus
from backend.enrollment.roster import fill_roster, trim_roster, trim_roster_sync
from backend.enrollment.rules import (
    OPEN_STATUSES,
    Census,
    Enrolled,
    ProgramAdmission,
    Waitlisted,
    Window,
    admission_problems,
    census,
    end_problems,
    frees_slot,
    has_room,
    transition_problems,
)
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import AdmissionWindow, Program
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import WaitlistStatus
from backend.workers.outbox import add_message

if TYPE_CHECKING:
    from backend.waitlist.rules import WaitlistDetails

SLOT_OPENED = "waitlist.slot_opened"
ALREADY_ENROLLED = FieldProblem(
    "clientId", "already_enrolled", "already has an open enrollment in this program"
)
PROGRAM_FULL = FieldProblem("to", "program_full", "the program has no free place for another active member")


def _not_found(field: str) -> InputRejected:
    return InputRejected([FieldProblem(field, "not_found", "does not name a record in this clinic")])


async def lock_program(session: AsyncSession, program_id: uuid.UUID) -> Program | None:
    stmt = select(Program).where(Program.id == program_id).with_for_update()
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


async def occupied_places(
    session: AsyncSession, program_id: uuid.UUID, today: date, accepting_offer: uuid.UUID | None = None
) -> tuple[int, int]:
    """(active members, outstanding offers): both hold a place; the offer being accepted counts once."""
    active = await session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.program_id == program_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            (Enrollment.ends_on.is_(None)) | (Enrollment.ends_on >= today),
        )
    )
    offers = (
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.program_id == program_id,
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offer_expires_at > utcnow(),
        )
    )
    if accepting_offer is not None:
        offers = offers.where(WaitlistEntry.id != accepting_offer)
    return int(active or 0), int(await session.scalar(offers) or 0)


async def enroll(
    session: AsyncSession,
    *,
    program_id: uuid.UUID,
    client_id: uuid.UUID,
    starts_on: date,
    actor_user_id: uuid.UUID | None,
    waitlist: WaitlistDetails | None = None,
    offer_entry_id: uuid.UUID | None = None,
) -> Enrolled | Waitlisted:
    """Enroll the client as an active member, or place them on the waitlist when the program is full.

    Raises `InputRejected` for a closed admission window (startsOn), an unknown program or client,
    or an open enrollment already there (clientId, already_enrolled).
    """
    program = await lock_program(session, program_id)
    if program is None:
        raise _not_found("programId")
    if await session.get(Client, client_id) is None:
        raise _not_found("clientId")
    windows = (
        await session.scalars(select(AdmissionWindow).where(AdmissionWindow.program_id == program_id))
    ).all()
    problems = admission_problems(
        ProgramAdmission(program.kind.value),
        program.starts_on,
        program.ends_on,
        [Window(w.opens_on, w.closes_on) for w in windows],
        starts_on,
    )
    if problems:
        raise InputRejected(problems)
    if await _open_enrollment(session, program_id, client_id) is not None:
        raise InputRejected([ALREADY_ENROLLED])
    active, offers = await occupied_places(session, program_id, starts_on, offer_entry_id)
    if not has_room(program.capacity, active, offers):
        if offer_entry_id is not None:
            raise InputRejected([FieldProblem("clientId", "program_full", "the program has no free place")])
        from backend.waitlist.store import add_entry

        entry = await add_entry(session, program_id=program_id, client_id=client_id, details=waitlist)
        return Waitlisted(entry.id)
    enrollment = Enrollment(
        id=uuid.uuid4(),
        program_id=program_id,
        client_id=client_id,
        status=EnrollmentStatus.ACTIVE,
        starts_on=starts_on,
    )
    try:
        async with session.begin_nested():
            session.add(enrollment)
            await session.flush()
    except IntegrityError as exc:
        if "uq_enrollments_open" in str(exc.orig):
            raise InputRejected([ALREADY_ENROLLED]) from None
        raise
    session.add(_event(enrollment, None, EnrollmentStatus.ACTIVE, starts_on, "enrolled", actor_user_id))
    await session.flush()
    await fill_roster(session, program_id, enrollment.id)
    # Coverage for group psychotherapy is checked as the member joins (a 270 via the worker).
    request_check(session, client_id, CheckReason.ENROLLMENT)
    return Enrolled(enrollment.id)


async def _open_enrollment(
    session: AsyncSession, program_id: uuid.UUID, client_id: uuid.UUID
) -> Enrollment | None:
    stmt = select(Enrollment).where(
        Enrollment.program_id == program_id,
        Enrollment.client_id == client_id,
        Enrollment.status.not_in((EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED)),
    )
    return (await session.scalars(stmt)).first()


def _event(
    enrollment: Enrollment,
    current: EnrollmentStatus | None,
    to: EnrollmentStatus,
    effective_on: date,
    reason: str | None,
    actor_user_id: uuid.UUID | None,
) -> EnrollmentEvent:
    return EnrollmentEvent(
        id=uuid.uuid4(),
        enrollment_id=enrollment.id,
        from_status=current.value if current else None,
        to_status=to.value,
        effective_on=effective_on,
        reason=reason,
        actor_user_id=actor_user_id,
        occurred_at=utcnow(),
    )


def _apply(
    enrollment: Enrollment,
    to: EnrollmentStatus,
    effective_on: date,
    reason: str | None,
    actor: uuid.UUID | None,
) -> tuple[EnrollmentEvent, bool]:
    """Validate and apply a status change in memory; returns the event and whether a place opened."""
    current = enrollment.status
    problems = transition_problems(current, to, effective_on, enrollment.starts_on)
    if reason is not None and len(reason) > 200:
        problems.append(FieldProblem("reason", "too_long", "must be at most 200 characters"))
    if problems:
        raise InputRejected(problems)
    enrollment.status = to
    if to in (EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED):
        enrollment.ends_on = (
            effective_on if enrollment.ends_on is None else min(enrollment.ends_on, effective_on)
        )
    if to == EnrollmentStatus.ACTIVE:
        enrollment.absence_flagged_at = None
    return _event(enrollment, current, to, effective_on, reason, actor), frees_slot(current, to)


async def change_status(
    session: AsyncSession,
    *,
    enrollment_id: uuid.UUID,
    to: EnrollmentStatus,
    effective_on: date,
    reason: str | None,
    actor_user_id: uuid.UUID | None,
) -> Enrollment:
    """Move an enrollment to `to`; leaving for good trims the roster after `effective_on`.

    A member returning from hold needs a free place (holds keep the member on the roster but only
    active members count toward capacity), so the program row is locked as for enrolling.
    """
    enrollment = await _locked_enrollment(session, enrollment_id)
    if to == EnrollmentStatus.ACTIVE and enrollment.status != EnrollmentStatus.ACTIVE:
        program = await lock_program(session, enrollment.program_id)
        assert program is not None
        active, offers = await occupied_places(session, program.id, effective_on)
        if enrollment.status not in (EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED) and not has_room(
            program.capacity, active, offers
        ):
            raise InputRejected([PROGRAM_FULL])
    event, opened = _apply(enrollment, to, effective_on, reason, actor_user_id)
    session.add(event)
    await session.flush()
    if enrollment.ends_on is not None:
        await trim_roster(session, enrollment.id, enrollment.ends_on)
    if opened:
        add_message(session, SLOT_OPENED, {"program_id": enrollment.program_id})
    return enrollment


def change_status_sync(
    session: Session,
    *,
    enrollment_id: uuid.UUID,
    to: EnrollmentStatus,
    effective_on: date,
    reason: str | None,
    actor_user_id: uuid.UUID | None,
) -> Enrollment:
    """The same for a worker's sync session (the absence job drops members; it never reactivates)."""
    stmt = select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update()
    enrollment = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    if enrollment is None:
        raise _not_found("enrollmentId")
    if to == EnrollmentStatus.ACTIVE:
        raise ValueError("reactivation needs the capacity check of the async change_status")
    event, opened = _apply(enrollment, to, effective_on, reason, actor_user_id)
    session.add(event)
    session.flush()
    if enrollment.ends_on is not None:
        trim_roster_sync(session, enrollment.id, enrollment.ends_on)
    if opened:
        add_message(session, SLOT_OPENED, {"program_id": enrollment.program_id})
    return enrollment


async def end_enrollment(
    session: AsyncSession, *, enrollment_id: uuid.UUID, ends_on: date, actor_user_id: uuid.UUID | None
) -> Enrollment:
    """Set the last day of an open enrollment: the member leaves the sessions after it, keeps the past."""
    enrollment = await _locked_enrollment(session, enrollment_id)
    problems = end_problems(enrollment.starts_on, ends_on)
    if enrollment.status in (EnrollmentStatus.GRADUATED, EnrollmentStatus.DROPPED):
        problems.append(
            FieldProblem("enrollmentId", "final_status", f"the enrollment is already {enrollment.status}")
        )
    if problems:
        raise InputRejected(problems)
    enrollment.ends_on = ends_on
    session.add(
        _event(enrollment, enrollment.status, enrollment.status, ends_on, "end date set", actor_user_id)
    )
    await session.flush()
    await trim_roster(session, enrollment.id, ends_on)
    if enrollment.status == EnrollmentStatus.ACTIVE:
        add_message(session, SLOT_OPENED, {"program_id": enrollment.program_id})
    return enrollment


async def _locked_enrollment(session: AsyncSession, enrollment_id: uuid.UUID) -> Enrollment:
    stmt = select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update()
    enrollment = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if enrollment is None:
        raise _not_found("enrollmentId")
    return enrollment


# -- reads ---------------------------------------------------------------------------------------


async def program_census(session: AsyncSession, program_id: uuid.UUID) -> Census:
    stmt = select(Enrollment.status).where(
        Enrollment.program_id == program_id, Enrollment.status.in_(OPEN_STATUSES)
    )
    return census(EnrollmentStatus(s) for s in (await session.scalars(stmt)).all())


def roster_list(program_id: uuid.UUID, include_ended: bool) -> Select[Any]:
    stmt = select(Enrollment).where(Enrollment.program_id == program_id)
    return stmt if include_ended else stmt.where(Enrollment.status.in_(OPEN_STATUSES))


async def events_of(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[EnrollmentEvent]]:
    stmt = (
        select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id.in_(enrollment_ids))
        .order_by(EnrollmentEvent.occurred_at, EnrollmentEvent.id)
    )
    found: dict[uuid.UUID, list[EnrollmentEvent]] = defaultdict(list)
    for event in (await session.scalars(stmt)).all():
        found[event.enrollment_id].append(event)
    return found


async def enrollments_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Enrollment | None]:
    rows = {e.id: e for e in (await session.scalars(select(Enrollment).where(Enrollment.id.in_(ids)))).all()}
    return [rows.get(i) for i in ids]
