"""Persistence of staff, their credentials and rooms."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clinic.models import ClinicSettings
from backend.staff.models import BookableResource, Room, StaffCredential, StaffMember
from backend.staff.rules import Caps, effective_caps


async def _new_lane(session: AsyncSession, kind: str) -> int:
    resource = BookableResource(kind=kind)
    session.add(resource)
    await session.flush()
    return resource.lane


async def add_staff(
    session: AsyncSession,
    display_name: str,
    user_id: uuid.UUID | None,
    max_per_day: int | None = None,
    max_per_week: int | None = None,
) -> StaffMember:
    staff = StaffMember(
        display_name=display_name,
        user_id=user_id,
        lane=await _new_lane(session, "staff"),
        max_groups_per_day=max_per_day,
        max_groups_per_week=max_per_week,
        active=True,
    )
    session.add(staff)
    await session.flush()
    return staff


async def add_room(session: AsyncSession, name: str, capacity: int | None) -> Room:
    room = Room(name=name, capacity=capacity, lane=await _new_lane(session, "room"))
    session.add(room)
    await session.flush()
    return room


async def set_credential(
    session: AsyncSession, staff_id: uuid.UUID, credential: str, expires_on: date | None
) -> StaffCredential:
    """Add a credential, or renew it (a new expiry) when the staff member already holds it."""
    key = credential.strip().upper()
    found = await session.scalar(
        select(StaffCredential).where(StaffCredential.staff_id == staff_id, StaffCredential.credential == key)
    )
    if found is None:
        found = StaffCredential(staff_id=staff_id, credential=key, expires_on=expires_on)
        session.add(found)
    else:
        found.expires_on = expires_on
    await session.flush()
    return found


async def staff_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StaffMember]:
    if not ids:
        return {}
    rows = await session.scalars(select(StaffMember).where(StaffMember.id.in_(ids)))
    return {s.id: s for s in rows}


async def lock_staff(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StaffMember]:
    """Lock the staff rows (in id order, so two transactions never deadlock) before counting load.

    Two concurrent assignments of the same facilitator then count one after the other and cannot
    both pass the cap. FOR NO KEY UPDATE, not FOR UPDATE: rows inserted earlier in the transaction
    that reference the staff member (a program, a session facilitator) hold FOR KEY SHARE on it,
    which FOR UPDATE would wait on, deadlocking two such transactions.
    """
    if not ids:
        return {}
    stmt = (
        select(StaffMember)
        .where(StaffMember.id.in_(ids))
        .order_by(StaffMember.id)
        .with_for_update(key_share=True)
    )
    rows = await session.scalars(stmt.execution_options(populate_existing=True))
    return {s.id: s for s in rows}


async def credentials_of(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, date | None]]:
    held: dict[uuid.UUID, dict[str, date | None]] = defaultdict(dict)
    if ids:
        rows = await session.execute(
            select(StaffCredential.staff_id, StaffCredential.credential, StaffCredential.expires_on).where(
                StaffCredential.staff_id.in_(ids)
            )
        )
        for staff_id, credential, expires_on in rows:
            held[staff_id][credential.upper()] = expires_on
    return held


async def staff_for_user(session: AsyncSession, user_id: uuid.UUID) -> StaffMember | None:
    return await session.scalar(select(StaffMember).where(StaffMember.user_id == user_id))


async def clinic_caps(session: AsyncSession) -> tuple[str, int, int]:
    settings = await session.get_one(ClinicSettings, 1)
    return settings.timezone, settings.max_groups_per_day, settings.max_groups_per_week


def caps_for(staff: StaffMember, clinic_day: int, clinic_week: int) -> Caps:
    return effective_caps(clinic_day, clinic_week, staff.max_groups_per_day, staff.max_groups_per_week)


def new_feed_token() -> tuple[str, str]:
    """A calendar feed secret and the SHA-256 stored for it (the secret itself is shown once)."""
    token = secrets.token_urlsafe(32)
    return token, hash_feed_token(token)


def hash_feed_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def room_by_feed_token(session: AsyncSession, token: str) -> Room | None:
    return await session.scalar(select(Room).where(Room.calendar_token_hash == hash_feed_token(token)))


async def staff_by_feed_token(session: AsyncSession, token: str) -> StaffMember | None:
    return await session.scalar(
        select(StaffMember).where(StaffMember.calendar_token_hash == hash_feed_token(token))
    )
