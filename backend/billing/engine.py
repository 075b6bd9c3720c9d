"""The claim engine: a closed session's billable events become decisions and member claims (worker job).

Runs as the outbox handler of `billing.session_closed`, which the session record writes in the
transaction that makes it final. For every roster member it stores a `BillingDecision` (billed, or
not and why); for each billed member it creates one original claim, keyed by the billable event
(a unique index), and uses one session of the member's authorization only when that claim is new.
An IOP/PHP day is billed on its week's claim later (backend.billing.iop_claims), but uses its day
of the authorization when it is decided billed, marked on its billable event, so the next day's
decision sees what is left. Re-running, or a worker killed mid-way and retried, therefore never
duplicates a claim or a use.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, Uuid, bindparam, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from backend.billing.claim_builder import build_claim, claim_number, claimable
from backend.billing.decisions import Decision, authorized_service
from backend.billing.documents import claim_document
from backend.billing.iop import week_of
from backend.billing.iop_claims import IOP_WEEK
from backend.billing.models import BillingDecision, Claim, ClaimFormat, ClaimStatus
from backend.billing.part2_payment import with_part2
from backend.billing.session_facts import SessionBilling, among, load_many, with_batch_effects
from backend.billing.submission import clearinghouse_for, process_responses, submit_ready_claims
from backend.clients.models import Authorization
from backend.database import TenantBase, utcnow
from backend.documentation.models import BillableEvent
from backend.scheduling.models import GroupSession, SessionStatus
from backend.tenants.routing import session_schema
from backend.workers.outbox import Payload, PermanentFailure, add_message, handler, take_batch

SESSION_CLOSED = "billing.session_closed"
SUBMIT_CLAIMS = "billing.submit_claims"
POLL_CLEARINGHOUSE = "billing.poll_clearinghouse"


class InvalidSessionPayload(PermanentFailure):
    """The outbox row does not name a session."""


#: Closed sessions one job bills together: loading and writing cost a fixed number of statements
#: per batch, so a busy afternoon's sessions cost a few round trips instead of 17 each.
BATCH_SESSIONS = 40


@handler(SESSION_CLOSED)
def on_session_closed(session: Session, payload: Payload) -> None:
    """Bill the session, and with it other closed sessions still waiting (their rows are marked done)."""
    try:
        session_id = uuid.UUID(str(payload["session_id"]))
    except (KeyError, ValueError):
        raise InvalidSessionPayload("session_id missing or invalid") from None
    waiting = [uuid.UUID(str(p["session_id"])) for p in take_batch(session, BATCH_SESSIONS - 1)]
    if any(d.billed for d in produce_claims_many(session, [session_id, *waiting])):
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
    return produce_claims_many(session, [session_id])


def produce_claims_many(session: Session, session_ids: Sequence[uuid.UUID]) -> list[Decision]:
    """Decide every roster member, create the billed members' claims once, consume the sessions' events.

    A fixed number of statements for 1 or 40 sessions: the facts are loaded together, and the
    decisions upserted, the claims inserted and the authorization uses counted in one statement
    each. Sessions are decided in order of their start, each seeing the uses and same-day visits of
    the claims the batch made before it, as if they had been billed one by one.
    """
    batch = load_many(session, session_ids)
    ids = [b.group_session.id for b in batch]
    events = {
        (e.session_id, e.client_id): e
        for e in session.scalars(select(BillableEvent).where(among(BillableEvent.session_id, ids)))
    }
    billed_before: dict[uuid.UUID, uuid.UUID | None] = {
        event_id: auth_id
        for event_id, auth_id in session.execute(
            select(Claim.billable_event_id, Claim.authorization_id).where(
                among(Claim.session_id, ids), Claim.frequency == "1"
            )
        )
    }
    uses: Counter[uuid.UUID] = Counter()
    visits: Counter[tuple[uuid.UUID, date]] = Counter()
    now = utcnow()
    decided: list[Decision] = []
    decision_rows: list[dict[str, object]] = []
    claim_rows: list[dict[str, object]] = []
    consumed: list[uuid.UUID] = []
    days: list[tuple[uuid.UUID, uuid.UUID]] = []  # (billable event, authorization) of IOP/PHP days
    for billing in batch:
        sid = billing.group_session.id
        own = {  # the authorization each member's event used in an earlier run (claim or IOP day)
            cid: auth_id
            for (event_sid, cid), e in events.items()
            if event_sid == sid and (auth_id := e.authorization_id or billed_before.get(e.id))
        }
        billing = with_batch_effects(billing, uses, visits, own)
        decisions = [claimable(billing, d) for d in billing.decide()]
        # A claim carries (and uses) an authorization only of its own service and while it has
        # sessions left.
        service = authorized_service(billing.facts.level_of_care, billing.facts.program_kind)
        usable = {
            m.client_key
            for m in billing.members
            if m.authorization and m.authorization.remaining and m.authorization.service == service
        }
        billing = replace(
            billing, authorizations={c: a for c, a in billing.authorizations.items() if str(c) in usable}
        )
        decided += decisions
        decision_rows += [_decision_row(sid, d, now) for d in decisions]
        if billing.facts.level_of_care.institutional:  # IOP/PHP: one 837I per member and week
            for d in decisions:
                client_id = uuid.UUID(d.client_key)
                event = events.get((sid, client_id))
                auth = billing.authorizations.get(client_id)
                if d.billed and event is not None and event.authorization_id is None and auth is not None:
                    days.append((event.id, auth.id))
                    uses[auth.id] += 1
            _week_when_complete(session, billing)  # the week's claims consume its events
            continue
        consumed.append(sid)
        for d in decisions:
            client_id = uuid.UUID(d.client_key)
            event = events.get((sid, client_id))
            if not d.billed or event is None or event.id in billed_before:  # made by an earlier run
                continue
            claim_rows.append(_claim_row(billing, d, event, now))
            visits[client_id, billing.facts.service_date] += 1
            if (auth := billing.authorizations.get(client_id)) is not None:
                uses[auth.id] += 1
    if decision_rows:
        # executemany: SQLAlchemy batches the rows into multi-row statements it compiles once
        # (one VALUES list of every row was recompiled per batch: most of the batch's time).
        upsert = insert(table_of(BillingDecision))
        changed = {c: upsert.excluded[c] for c in DECISION_COLUMNS}
        session.execute(
            upsert.on_conflict_do_update(index_elements=["session_id", "client_id"], set_=changed),
            decision_rows,
        )
    # One use per new claim and per newly marked IOP/PHP day, in the claims' transaction: a retried
    # job finds the claims and the marks, and counts nothing twice.
    used: Counter[uuid.UUID] = Counter()
    if claim_rows:
        made = session.execute(
            insert(table_of(Claim))
            .on_conflict_do_nothing(
                index_elements=["billable_event_id", "responsibility"],
                index_where=Claim.frequency == literal_column("'1'"),
            )
            .returning(table_of(Claim).c.authorization_id),
            claim_rows,
        ).scalars()
        used.update(a for a in made if a is not None)
    if days:
        used.update(_mark_days(session, days))
    if used:
        table = table_of(Authorization)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("used_id"))
            .values(sessions_used=table.c.sessions_used + bindparam("uses")),
            [{"used_id": a, "uses": n} for a, n in used.items()],
        )
    if consumed:
        session.execute(
            update(BillableEvent)
            .where(among(BillableEvent.session_id, consumed), BillableEvent.consumed_at.is_(None))
            .values(consumed_at=now)
        )
    return decided


def _mark_days(session: Session, days: list[tuple[uuid.UUID, uuid.UUID]]) -> list[uuid.UUID]:
    """Mark each IOP/PHP day's event with the authorization it uses, in one statement; returns the
    authorizations of the days marked now (a day a concurrent run marked first is not returned)."""
    events = table_of(BillableEvent)
    pairs = select(
        func.unnest(bindparam("day_events", [e for e, _ in days], type_=ARRAY(Uuid()))).label("event_id"),
        func.unnest(bindparam("day_auths", [a for _, a in days], type_=ARRAY(Uuid()))).label("auth_id"),
    ).subquery()
    return list(
        session.scalars(
            update(events)
            .where(events.c.id == pairs.c.event_id, events.c.authorization_id.is_(None))
            .values(authorization_id=pairs.c.auth_id)
            .returning(events.c.authorization_id)
        )
    )


def table_of(model: type[TenantBase]) -> Table:
    """The model's Core table: Core executemany batches rows into a few statements compiled once
    (the ORM's bulk path splits them by which values are None)."""
    return cast(Table, model.__table__)


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
        "reasons": [{"code": r.code, "message": r.message, "blocking": r.blocking} for r in decision.reasons],
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
        "document": with_part2(claim_document(subscriber, claim), billing.part2.get(client_id)),
        "created_at": now,
        "updated_at": now,
    }
