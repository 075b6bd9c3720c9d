"""The documentation queues: sessions a clinician still owes a signature, and notes awaiting co-signature.

Both are one statement each. "Unsigned" follows the sign-off rules (backend.documentation.signoff):
every facilitator signs, so a session is in a facilitator's queue once it has started, until they
signed it or the record is final, even before anyone opened its record. A trainee's signature
waits for their named supervisor (recorded on the signature), or, when the trainee names none,
for any supervisor (`any_trainee`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.documentation.models import RecordSignature, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.enrollment.models import SessionAttendee
from backend.programs.models import Program
from backend.scheduling.models import GroupSession, SessionFacilitator, SessionKind, SessionStatus
from backend.staff.models import StaffMember

QUEUE_LIMIT = 500


@dataclass(frozen=True)
class UnsignedSession:
    session_id: uuid.UUID
    kind: SessionKind
    program_name: str | None
    starts_at: datetime
    roster_size: int
    status: RecordStatus


@dataclass(frozen=True)
class AwaitingCosign:
    session_id: uuid.UUID
    program_name: str | None
    starts_at: datetime
    trainee_id: uuid.UUID
    trainee_name: str
    signed_at: datetime
    status: RecordStatus


async def unsigned_sessions(
    session: AsyncSession, staff_id: uuid.UUID, now: datetime, limit: int = QUEUE_LIMIT
) -> list[UnsignedSession]:
    """Started, not cancelled sessions `staff_id` facilitates, not final, not signed by them; oldest first."""
    signed = exists().where(
        RecordSignature.session_id == GroupSession.id, RecordSignature.staff_id == staff_id
    )
    roster_size = (
        select(func.count())
        .where(SessionAttendee.session_id == GroupSession.id, SessionAttendee.removed_at.is_(None))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            GroupSession.id,
            GroupSession.kind,
            Program.name,
            GroupSession.starts_at,
            roster_size.label("roster_size"),
            SessionRecord.status,
        )
        .join(SessionFacilitator, SessionFacilitator.session_id == GroupSession.id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        # No record row yet: nobody opened it, and it is owed all the same.
        .outerjoin(SessionRecord, SessionRecord.session_id == GroupSession.id)
        .where(
            SessionFacilitator.staff_id == staff_id,
            GroupSession.starts_at <= now,
            GroupSession.status != SessionStatus.CANCELLED,
            or_(SessionRecord.status.is_(None), SessionRecord.status != RecordStatus.FINAL),
            ~signed,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
        .limit(limit)
    )
    return [
        UnsignedSession(r.id, r.kind, r.name, r.starts_at, r.roster_size, r.status or RecordStatus.DRAFT)
        for r in rows
    ]


async def cosign_queue(
    session: AsyncSession, supervisor_id: uuid.UUID, *, any_trainee: bool, limit: int = QUEUE_LIMIT
) -> list[AwaitingCosign]:
    """Trainee signatures waiting for this supervisor's co-signature, oldest signature first.

    `any_trainee`: the caller holds the supervisor role, so trainees who name no supervisor wait for them too.
    """
    sig = RecordSignature
    addressed = sig.supervisor_id == supervisor_id
    if any_trainee:
        addressed = or_(addressed, sig.supervisor_id.is_(None))
    rows = await session.execute(
        select(
            GroupSession.id,
            Program.name,
            GroupSession.starts_at,
            sig.staff_id,
            StaffMember.display_name,
            sig.signed_at,
            SessionRecord.status,
        )
        .select_from(sig)
        .join(SessionRecord, SessionRecord.session_id == sig.session_id)
        .join(GroupSession, GroupSession.id == sig.session_id)
        # Only a current facilitator's signature counts (the sign-off rules ignore others).
        .join(
            SessionFacilitator,
            and_(
                SessionFacilitator.session_id == sig.session_id, SessionFacilitator.staff_id == sig.staff_id
            ),
        )
        .join(StaffMember, StaffMember.id == sig.staff_id)
        .outerjoin(Program, Program.id == GroupSession.program_id)
        .where(
            sig.requires_cosign.is_(True),
            sig.cosigned_by.is_(None),
            sig.staff_id != supervisor_id,
            addressed,
        )
        .order_by(sig.signed_at, sig.session_id)
        .limit(limit)
    )
    return [
        AwaitingCosign(r.id, r.name, r.starts_at, r.staff_id, r.display_name, r.signed_at, r.status)
        for r in rows
    ]
