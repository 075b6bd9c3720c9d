"""The claim engine bills waiting closed sessions together, with the same decisions as one by one."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.billing.engine import SESSION_CLOSED, produce_claims
from backend.billing.models import BillingDecision, Claim
from backend.clients.models import Authorization
from backend.database import Database
from backend.documentation.models import BillableEvent
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.closed_sessions import seed_closed_sessions


def _outcome(
    session: Session, sessions: list[uuid.UUID], members: list[uuid.UUID]
) -> list[tuple[int, int, bool, tuple[str, ...]]]:
    """Each member's decision per session (session index, member index, billed, reason codes)."""
    rows = session.scalars(select(BillingDecision))
    return sorted(
        (
            sessions.index(d.session_id),
            members.index(d.client_id),
            d.billed,
            tuple(r["code"] for r in d.reasons),
        )
        for d in rows
    )


def _closed_rows(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.kind == SESSION_CLOSED)
            .order_by(OutboxMessage.created_at)
        )
    )


def test_one_delivery_bills_every_waiting_session_and_the_others_deliveries_do_nothing(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Three closed sessions, one job: every claim is made once and the other two rows are already done."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        seed_closed_sessions(session)
    with tenant_session(database.engine, clinic.schema_name) as session:
        first, *others = _closed_rows(session)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert process(session, first)
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert [process(session, row) for row in others] == [False, False]
        claims = list(session.scalars(select(Claim)))
        pending = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(others))).all()
        assert all(row.processed_at is not None for row in pending)
        unconsumed = session.scalars(select(BillableEvent).where(BillableEvent.consumed_at.is_(None))).all()
    # 9 member-sessions: the afternoon's 3 fall to the one-visit-a-day rule, member 0's third to the
    # exhausted authorization; never two claims for one event.
    assert len(claims) == 5
    assert len({c.billable_event_id for c in claims}) == 5
    assert unconsumed == []


def test_a_batch_decides_exactly_as_billing_the_sessions_one_by_one(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Same-day visits and authorization uses made earlier in the batch count for later sessions."""
    batched, one_by_one = make_clinic(), make_clinic()
    outcomes, used = [], []
    for clinic, batch in ((batched, True), (one_by_one, False)):
        with tenant_session(database.engine, clinic.schema_name) as session:
            seeded = seed_closed_sessions(session)
            closed, auth_id, members = seeded.closed, seeded.authorization, seeded.members
        in_start_order = [closed[1], closed[0], closed[2]]
        if batch:
            with tenant_session(database.engine, clinic.schema_name) as session:
                assert process(session, _closed_rows(session)[0])
        else:
            for sid in in_start_order:
                with tenant_session(database.engine, clinic.schema_name) as session:
                    produce_claims(session, sid)
        with tenant_session(database.engine, clinic.schema_name) as session:
            outcomes.append(_outcome(session, in_start_order, members))
            used.append(session.get_one(Authorization, auth_id).sessions_used)
    assert outcomes[0] == outcomes[1]
    assert used == [5, 5]  # one session was left: used once, not once per session of the batch
    billed = {(s, m): b for s, m, b, _ in outcomes[0]}
    assert billed == {
        **{(0, m): True for m in range(3)},
        **{(1, m): False for m in range(3)},  # the afternoon: one group visit a day
        (2, 0): False,  # the authorization's last session went to the morning
        (2, 1): True,
        (2, 2): True,
    }


def test_a_retried_row_is_billed_alone(database: Database, make_clinic: Callable[..., Tenant]) -> None:
    """A row that failed once takes no other rows with it, so a bad session cannot hold others back."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        closed = seed_closed_sessions(session).closed
    with tenant_session(database.engine, clinic.schema_name) as session:
        first, *others = _closed_rows(session)
        session.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(attempts=1))
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert process(session, first)
    with tenant_session(database.engine, clinic.schema_name) as session:
        billed_sessions = set(session.scalars(select(Claim.session_id)))
        assert billed_sessions <= {closed[0]}
        assert [process(session, row) for row in others] == [True, False]  # the next row takes the last
