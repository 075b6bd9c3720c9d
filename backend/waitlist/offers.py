"""Offering an open place to the top-ranked waitlist candidate, and the offer's answer.

A place opens when a member graduates, drops or ends (the enrollment flow writes the outbox row
`waitlist.slot_opened` {program_id}); a declined offer writes it again. The handler locks the
program row (the enrollment flow locks it too, so counting places and offering are serialized),
and offers only while a place is neither held by an active member nor reserved by an unexpired
offer: processing the same row twice, or two rows for one place, makes one offer.

Expired offers: an offer unanswered after OFFER_HOURS stops reserving the place at once (the
enrollment flow counts only unexpired offers). The next `slot_opened` for the program puts the
entry back to WAITING, keeping its date added (a missed email should not cost months of waiting),
stamps `last_offer_expired_at`, and passes it over for that round so the place goes to the next
candidate.

Notifications carry no clinical information: the client learns a place is open and until when
to answer; the referrer gets a referral reference, not the client's name or the program's.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.clients.models import Client
from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected
from backend.notifications.delivery import queue_notification
from backend.programs.models import Program
from backend.waitlist.models import WaitlistEntry
from backend.waitlist.rules import WaitlistStatus
from backend.waitlist.snapshot import load_ranking
from backend.workers.outbox import Payload, PermanentFailure, add_message, handler

log = logging.getLogger(__name__)

SLOT_OPENED = "waitlist.slot_opened"
#: How long an offer reserves the place (three days covers a weekend).
OFFER_HOURS = 72
CLIENT_TEMPLATE = "waitlist.offer"
REFERRER_TEMPLATE = "waitlist.offer_referrer"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")


class InvalidSlotPayload(PermanentFailure):
    """The outbox row does not name a program."""


@handler(SLOT_OPENED)
def offer_open_slot(session: Session, payload: Payload) -> None:
    """Offer the program's open place (if any) to the best eligible WAITING candidate."""
    try:
        program_id = uuid.UUID(str(payload["program_id"]))
    except (KeyError, ValueError):
        raise InvalidSlotPayload("program_id missing or invalid") from None
    program = session.scalars(
        select(Program)
        .where(Program.id == program_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if program is None:
        return
    now = utcnow()
    lapsed = expire_offers(session, program_id, now)
    # An offer that just lapsed goes to the next candidate, not back to the same client.
    ranking = load_ranking(session, program, now, limit=1, exclude=lapsed)
    if ranking.open_places <= 0:
        return
    top = next((r for r in ranking.ranked if r.eligible), None)
    if top is None:
        log.info("waitlist slot in program %s: no eligible candidate", program_id)
        return
    entry = session.get_one(WaitlistEntry, top.candidate.entry_id, with_for_update=True)
    entry.status = WaitlistStatus.OFFERED
    entry.offered_at = now
    entry.offer_expires_at = now + timedelta(hours=OFFER_HOURS)
    session.flush()
    notify_offer(session, entry, program.timezone)


def expire_offers(session: Session, program_id: uuid.UUID, now: datetime) -> set[uuid.UUID]:
    """Put the program's lapsed offers back to WAITING; return their entry ids."""
    rows = session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.program_id == program_id,
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offer_expires_at <= now,
        )
        .values(
            status=WaitlistStatus.WAITING, offered_at=None, offer_expires_at=None, last_offer_expired_at=now
        )
        .returning(WaitlistEntry.id)
        .execution_options(synchronize_session=False)
    )
    return set(rows.scalars())


def notify_offer(session: Session, entry: WaitlistEntry, timezone: str) -> None:
    """Tell the client (by email, when on file) and the referrer (when a contact was given)."""
    assert entry.offer_expires_at is not None
    deadline = entry.offer_expires_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
    client_email = session.scalar(select(Client.email).where(Client.id == entry.client_id))
    if client_email:
        body = (
            "A place has opened for you in a group at your clinic. Please contact the clinic "
            f"by {deadline} to accept it; after that it may be offered to someone else."
        )
        queue_notification(session, "email", client_email, CLIENT_TEMPLATE, body)
    channel = contact_channel(entry.referrer_contact)
    if channel is not None and entry.referrer_contact is not None:
        body = (
            f"A group place has been offered to a client you referred (referral reference "
            f"{referral_reference(entry.id)}). The clinic will follow up with the client."
        )
        queue_notification(session, channel, entry.referrer_contact.strip(), REFERRER_TEMPLATE, body)


def contact_channel(contact: str | None) -> str | None:
    """ "email" or "sms" by the contact's shape; None when it is neither (nothing is sent)."""
    if not contact:
        return None
    value = contact.strip()
    if EMAIL.match(value):
        return "email"
    if PHONE.match(value) and sum(c.isdigit() for c in value) >= 7:
        return "sms"
    return None


def referral_reference(entry_id: uuid.UUID) -> str:
    """A short reference the referrer can quote to the clinic (not PHI: a random id's prefix)."""
    return entry_id.hex[:8].upper()


# -- answering an offer (GraphQL) ---------------------------------------------------------------

NOT_OFFERED = FieldProblem("entryId", "not_offered", "has no outstanding offer")
OFFER_EXPIRED = FieldProblem("entryId", "offer_expired", "the offer has expired")


async def _locked_offer(session: AsyncSession, entry_id: uuid.UUID) -> WaitlistEntry:
    """The entry, its program locked first (the order the offer worker and enrollment lock in)."""
    program_id = await session.scalar(select(WaitlistEntry.program_id).where(WaitlistEntry.id == entry_id))
    if program_id is None:
        raise InputRejected([FieldProblem("entryId", "not_found", "does not name a record in this clinic")])
    await session.execute(select(Program.id).where(Program.id == program_id).with_for_update())
    entry = (
        await session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    if entry.status != WaitlistStatus.OFFERED:
        raise InputRejected([NOT_OFFERED])
    return entry


async def accept_offer(
    session: AsyncSession, entry_id: uuid.UUID, starts_on: date, actor_user_id: uuid.UUID | None
) -> WaitlistEntry:
    """Enroll the client in the offered place and mark the entry PLACED (or raise InputRejected)."""
    from backend.enrollment.rules import Enrolled
    from backend.enrollment.store import enroll

    entry = await _locked_offer(session, entry_id)
    if entry.offer_expires_at is None or entry.offer_expires_at <= utcnow():
        raise InputRejected([OFFER_EXPIRED])
    result = await enroll(
        session,
        program_id=entry.program_id,
        client_id=entry.client_id,
        starts_on=starts_on,
        actor_user_id=actor_user_id,
        offer_entry_id=entry.id,
    )
    if not isinstance(result, Enrolled):  # enroll never waitlists when accepting an offer
        raise InputRejected([FieldProblem("entryId", "program_full", "the program has no free place")])
    entry.status = WaitlistStatus.PLACED
    entry.enrollment_id = result.enrollment_id
    await session.flush()
    return entry


async def decline_offer(session: AsyncSession, entry_id: uuid.UUID) -> WaitlistEntry:
    """Mark the offer DECLINED and ask the worker to offer the place to the next candidate."""
    entry = await _locked_offer(session, entry_id)
    entry.status = WaitlistStatus.DECLINED
    await session.flush()
    add_message(session, SLOT_OPENED, {"program_id": entry.program_id})
    return entry
