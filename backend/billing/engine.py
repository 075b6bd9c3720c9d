"""The claim engine: a closed session's billable events become decisions and member claims (worker job).

Runs as the outbox handler of `billing.session_closed`, which the session record writes in the
transaction that makes it final. For every roster member it stores a `BillingDecision` (billed, or
not and why); for each billed member it creates one original claim, keyed by the billable event
(a unique index), and uses one session of the member's authorization only when that claim is new.
Re-running, or a worker killed mid-way and retried, therefore never duplicates a claim or a use.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.billing.claim_builder import build_claim, claim_number, claimable
from backend.billing.decisions import Decision
from backend.billing.documents import claim_document
from backend.billing.iop import week_of
from backend.billing.iop_claims import IOP_WEEK
from backend.billing.models import BillingDecision, Claim, ClaimFormat, ClaimStatus
from backend.billing.session_facts import SessionBilling, load
from backend.billing.submission import clearinghouse_for, process_responses, submit_ready_claims
from backend.clients.models import Authorization
from backend.database import utcnow
from backend.documentation.models import BillableEvent
from backend.scheduling.models import GroupSession, SessionStatus
from backend.tenants.routing import session_schema
from backend.workers.outbox import Payload, PermanentFailure, add_message, handler

SESSION_CLOSED = "billing.session_closed"
SUBMIT_CLAIMS = "billing.submit_claims"
POLL_CLEARINGHOUSE = "billing.poll_clearinghouse"


class InvalidSessionPayload(PermanentFailure):
    """The outbox row does not name a session."""


@handler(SESSION_CLOSED)
def on_session_closed(session: Session, payload: Payload) -> None:
    try:
        session_id = uuid.UUID(str(payload["session_id"]))
    except (KeyError, ValueError):
        raise InvalidSessionPayload("session_id missing or invalid") from None
    if any(d.billed for d in produce_claims(session, session_id)):
        add_message(session, SUBMIT_CLAIMS, {})


@handler(SUBMIT_CLAIMS)
def on_submit_claims(session: Session, payload: Payload) -> None:
    """Send the clinic's READY claims (one 837 batch per payer)."""
    submit_ready_claims(session, clearinghouse_for(session_schema(session)))


@handler(POLL_CLEARINGHOUSE)
def on_poll_clearinghouse(session: Session, payload: Payload) -> None:
    """Apply the clinic's waiting clearinghouse responses (999, 277CA, 835, 271)."""
    process_responses(session, clearinghouse_for(session_schema(session)))


def produce_claims(session: Session, session_id: uuid.UUID) -> list[Decision]:
    """Decide every roster member, create the billed members' claims once, consume the session's events.

    A fixed number of statements per session: the decisions are upserted, the claims inserted and the
    authorization uses counted in one statement each.
    """
    billing = load(session, session_id)
    if billing is None:
        return []
    decisions = [claimable(billing, d) for d in billing.decide()]
    events = {
        e.client_id: e
        for e in session.scalars(select(BillableEvent).where(BillableEvent.session_id == session_id))
    }
    now = utcnow()
    if decisions:
        upsert = insert(BillingDecision).values([_decision_row(session_id, d, now) for d in decisions])
        changed = {c: upsert.excluded[c] for c in DECISION_COLUMNS}
        session.execute(
            upsert.on_conflict_do_update(index_elements=["session_id", "client_id"], set_=changed)
        )
    if billing.facts.level_of_care.institutional:  # IOP/PHP: one 837I per member and week
        _week_when_complete(session, billing)
        return decisions
    rows = [
        _claim_row(billing, d, events[uuid.UUID(d.client_key)], now)
        for d in decisions
        if d.billed and uuid.UUID(d.client_key) in events
    ]
    if rows:
        made = session.execute(
            insert(Claim)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["billable_event_id"], index_where=Claim.frequency == literal_column("'1'")
            )
            .returning(Claim.authorization_id)
        ).scalars()
        # One use per new claim, in the claims' transaction: a retried job finds the claims and skips this.
        used = [a for a in made if a is not None]
        if used:
            session.execute(
                update(Authorization)
                .where(Authorization.id.in_(used))
                .values(sessions_used=Authorization.sessions_used + 1)
            )
    session.execute(
        update(BillableEvent)
        .where(BillableEvent.session_id == session_id, BillableEvent.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    return decisions


DECISION_COLUMNS = (
    "billed",
    "reasons",
    "code",
    "modifiers",
    "place_of_service",
    "units",
    "charge",
    "payer_id",
)


def _decision_row(session_id: uuid.UUID, decision: Decision, now: datetime) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "session_id": session_id,
        "client_id": uuid.UUID(decision.client_key),
        "billed": decision.billed,
        "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons],
        "code": decision.code,
        "modifiers": list(decision.modifiers),
        "place_of_service": decision.place_of_service,
        "units": decision.units,
        "charge": decision.charge,
        "payer_id": uuid.UUID(decision.payer_id) if decision.payer_id else None,
        "decided_at": now,
    }


def _week_when_complete(session: Session, billing: SessionBilling) -> None:
    """Queue the program's week claims once none of that week's sessions is still to be held or closed."""
    gs, program = billing.group_session, billing.program
    if program is None:
        return
    monday = week_of(billing.facts.service_date)
    zone = ZoneInfo(program.timezone)
    start = datetime.combine(monday, time.min, zone)
    open_sessions = session.scalar(
        select(func.count())
        .select_from(GroupSession)
        .where(
            GroupSession.program_id == program.id,
            GroupSession.starts_at >= start,
            GroupSession.starts_at < start + timedelta(days=7),
            GroupSession.status == SessionStatus.SCHEDULED,
            GroupSession.id != gs.id,
        )
    )
    if not open_sessions:
        add_message(session, IOP_WEEK, {"program_id": program.id, "week_of": monday.toordinal()})


def _claim_row(
    billing: SessionBilling, decision: Decision, event: BillableEvent, now: datetime
) -> dict[str, object]:
    client_id = uuid.UUID(decision.client_key)
    auth = billing.authorizations.get(client_id)
    subscriber, claim = build_claim(billing, decision, claim_number())
    return {
        "id": uuid.uuid4(),
        "billable_event_id": event.id,
        "session_id": event.session_id,
        "client_id": client_id,
        "payer_id": uuid.UUID(str(decision.payer_id)),
        "authorization_id": auth.id if auth else None,
        "claim_number": claim.claim_id,
        "claim_format": ClaimFormat.PROFESSIONAL,
        "frequency": "1",
        "status": ClaimStatus.READY,
        "service_date": billing.facts.service_date,
        "total_charge": claim.total_charge,
        "document": claim_document(subscriber, claim),
        "created_at": now,
        "updated_at": now,
    }
