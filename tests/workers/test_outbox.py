"""The outbox API: ids-only payloads, exactly-once processing, dispatch and the drainer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.database import Database, utcnow
from backend.notifications.delivery import queue_notification
from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_async_session
from backend.workers.broker import make_broker
from backend.workers.outbox import (
    MAX_ATTEMPTS,
    OutboxMessage,
    Payload,
    PayloadRejected,
    UnknownKind,
    add_message,
    dispatch,
    drain,
    handler,
    process,
    record_failure,
    take_pending,
)

InClinic = Callable[[Tenant], AbstractContextManager[Session]]

handled: list[str] = []


@handler("test.record")
def record_handler(session: Session, payload: Payload) -> None:
    handled.append(str(payload["thing_id"]))


@handler("test.explode")
def explode_handler(session: Session, payload: Payload) -> None:
    raise RuntimeError("boom")


def _add(in_clinic: InClinic, clinic: Tenant, kind: str = "test.record", **fields: Any) -> uuid.UUID:
    with in_clinic(clinic) as session:
        message = add_message(session, kind, {"thing_id": uuid.uuid4()})
        for name, value in fields.items():
            setattr(message, name, value)
    return message.id


def _row(in_clinic: InClinic, clinic: Tenant, outbox_id: uuid.UUID) -> OutboxMessage:
    with in_clinic(clinic) as session:
        return session.get_one(OutboxMessage, outbox_id)


def _queued(broker: StubBroker) -> list[Message[Any]]:
    queue = broker.queues["outbox"]
    return [Message.decode(data) for data in list(queue.queue)]


# -- payload rule ----------------------------------------------------------------------------


def test_payload_of_ids_is_stored_with_uuids_as_canonical_strings(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """UUIDs (objects or strings), ints, bools and None are accepted; UUIDs are stored as strings."""
    clinic = make_clinic()
    thing, other = uuid.uuid4(), uuid.uuid4()
    payload = {"thing_id": thing, "other_id": str(other).upper(), "version": 3, "resend": True, "x": None}
    with in_clinic(clinic) as session:
        message = add_message(session, "test.record", payload)
    stored = _row(in_clinic, clinic, message.id).payload
    assert stored == {"thing_id": str(thing), "other_id": str(other), "version": 3, "resend": True, "x": None}


@pytest.mark.parametrize(
    "value",
    [
        "Jane Doe",
        "jane.doe@example.test",
        "",
        {"name": "Jane"},
        [str(uuid.uuid4())],
        1.5,
        b"id",
        datetime.now(UTC),
    ],
)
def test_payload_with_free_text_or_structures_is_rejected_without_quoting_it(value: object) -> None:
    """Anything but an id is refused, and the error names the key and type, never the value."""
    with Session() as session, pytest.raises(PayloadRejected) as raised:
        add_message(session, "test.record", {"thing_id": value})
    assert "thing_id" in str(raised.value)
    if value:
        assert repr(value) not in str(raised.value) and str(value) not in str(raised.value)
    assert not session.new


def test_payload_keys_must_be_snake_case_names() -> None:
    """A key that could itself carry text (spaces, capitals) is refused."""
    with Session() as session, pytest.raises(PayloadRejected):
        add_message(session, "test.record", {"Jane Doe": 1})


def test_outbox_row_commits_and_rolls_back_with_the_callers_transaction(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """The row is part of the caller's transaction: gone on rollback, present on commit."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        nested = session.begin_nested()
        rolled_back = add_message(session, "test.record", {"thing_id": uuid.uuid4()})
        session.flush()
        nested.rollback()
        kept = add_message(session, "test.record", {"thing_id": uuid.uuid4()})
    with in_clinic(clinic) as session:
        ids = set(session.scalars(select(OutboxMessage.id)))
    assert kept.id in ids
    assert rolled_back.id not in ids


def test_add_message_works_with_an_async_session(
    make_clinic: Callable[..., Tenant], database: Database, in_clinic: InClinic
) -> None:
    """An AsyncSession caller (the GraphQL layer) adds the row without awaiting anything."""
    clinic = make_clinic()

    async def write() -> uuid.UUID:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            async with tenant_async_session(engine, clinic.schema_name) as session:
                message = add_message(session, "test.record", {"thing_id": uuid.uuid4()})
                await session.commit()
            return message.id
        finally:
            await engine.dispose()

    outbox_id = asyncio.run(write())
    assert _row(in_clinic, clinic, outbox_id).processed_at is None


def test_take_pending_returns_the_sessions_new_ids_once() -> None:
    """The ids added through a session are handed out for dispatch once, in order."""
    with Session() as session:
        first = add_message(session, "test.record", {"thing_id": uuid.uuid4()})
        second = add_message(session, "test.record", {"thing_id": uuid.uuid4()})
        assert take_pending(session) == [first.id, second.id]
        assert take_pending(session) == []


def test_a_kind_cannot_get_a_second_handler() -> None:
    """Registering another function for a taken kind is refused."""

    def other(session: Session, payload: Payload) -> None:
        return None

    with pytest.raises(ValueError, match="already has a handler"):
        handler("test.record")(other)


# -- processing ------------------------------------------------------------------------------


def test_processing_the_same_row_twice_runs_its_handler_once(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """A duplicate delivery finds the row processed and does nothing."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic)
    before = len(handled)
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is True
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is False
    assert len(handled) == before + 1
    row = _row(in_clinic, clinic, outbox_id)
    assert row.processed_at is not None and row.attempts == 1


def test_processing_skips_a_row_another_transaction_is_processing(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """A concurrent duplicate skips the locked row instead of waiting and running it again."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic)
    before = len(handled)
    with in_clinic(clinic) as holder:
        holder.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
        with in_clinic(clinic) as session:
            assert process(session, outbox_id) is False
    assert len(handled) == before
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is True


def test_a_failing_handler_leaves_the_row_to_do(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """The handler's exception rolls back with the transaction; the row stays unprocessed."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic, kind="test.explode")
    with pytest.raises(RuntimeError), in_clinic(clinic) as session:
        process(session, outbox_id)
    assert _row(in_clinic, clinic, outbox_id).processed_at is None


def test_a_row_of_an_unknown_kind_is_a_permanent_failure(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """No handler means retrying cannot help."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic, kind="test.nobody_handles_this")
    with pytest.raises(UnknownKind), in_clinic(clinic) as session:
        process(session, outbox_id)


def test_failures_are_counted_by_class_name_and_the_row_fails_at_the_limit(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic
) -> None:
    """Each failure counts an attempt; the last allowed one marks the row failed."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with in_clinic(clinic) as session:
            dead = record_failure(session, outbox_id, "RuntimeError")
        assert dead is (attempt == MAX_ATTEMPTS)
    row = _row(in_clinic, clinic, outbox_id)
    assert (row.attempts, row.last_error) == (MAX_ATTEMPTS, "RuntimeError")
    assert row.failed_at is not None and row.processed_at is None
    with in_clinic(clinic) as session:
        assert process(session, outbox_id) is False


# -- dispatch --------------------------------------------------------------------------------


def test_dispatch_sends_the_tenant_and_outbox_id_and_nothing_else(
    make_clinic: Callable[..., Tenant], in_clinic: InClinic, stub_broker: StubBroker
) -> None:
    """Redis sees the clinic id and the row id; the recipient and body never leave PostgreSQL."""
    clinic = make_clinic()
    with in_clinic(clinic) as session:
        queue_notification(session, "email", "jane.doe@example.test", "welcome", "Dear Jane Doe")
        ids = take_pending(session)
    assert dispatch(clinic.id, ids, broker=stub_broker) == 1
    raw = list(stub_broker.queues["outbox"].queue)
    assert b"jane" not in raw[0].lower()
    (message,) = _queued(stub_broker)
    assert message.args == (str(ids[0]),) and message.kwargs == {}
    assert message.options["tenant_id"] == str(clinic.id)


def test_dispatch_does_not_raise_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """With Redis unreachable the fast path logs and returns quickly; the drainer catches up."""
    broker = make_broker("unix:///nonexistent/ensemble-redis.sock")
    started = time.monotonic()
    sent = dispatch(uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()], broker=broker)
    assert sent == 0
    assert time.monotonic() - started < 5
    assert "the drainer will send the rest" in caplog.text


# -- drainer ---------------------------------------------------------------------------------


def test_drainer_sends_rows_nobody_sent_and_stamps_them(
    make_clinic: Callable[..., Tenant],
    database: Database,
    registry: TenantRegistry,
    in_clinic: InClinic,
    stub_broker: StubBroker,
) -> None:
    """A due row is sent once with its tenant, stamped, and not sent again before the cutoff."""
    clinic = make_clinic()
    old = utcnow() - timedelta(minutes=5)
    outbox_id = _add(in_clinic, clinic, created_at=old)
    assert drain(database.engine, registry, stub_broker, older_than_seconds=60) >= 1
    mine = [m for m in _queued(stub_broker) if m.args == (str(outbox_id),)]
    assert len(mine) == 1 and mine[0].options["tenant_id"] == str(clinic.id)
    assert _row(in_clinic, clinic, outbox_id).enqueued_at is not None
    drain(database.engine, registry, stub_broker, older_than_seconds=60)
    assert len([m for m in _queued(stub_broker) if m.args == (str(outbox_id),)]) == 1


def test_drainer_leaves_fresh_done_failed_and_recently_sent_rows_alone(
    make_clinic: Callable[..., Tenant],
    database: Database,
    registry: TenantRegistry,
    in_clinic: InClinic,
    stub_broker: StubBroker,
) -> None:
    """Only rows neither processed nor failed, and unsent for longer than the cutoff, are sent."""
    clinic = make_clinic()
    old, now = utcnow() - timedelta(minutes=5), utcnow()
    skipped = {
        _add(in_clinic, clinic),  # fresh: the fast path has its grace period
        _add(in_clinic, clinic, created_at=old, processed_at=now),
        _add(in_clinic, clinic, created_at=old, failed_at=now),
        _add(in_clinic, clinic, created_at=old, enqueued_at=now),
    }
    resent = _add(in_clinic, clinic, created_at=old, enqueued_at=old)
    drain(database.engine, registry, stub_broker, older_than_seconds=60)
    sent = {uuid.UUID(m.args[0]) for m in _queued(stub_broker)}
    assert resent in sent
    assert not skipped & sent


def test_drainer_ignores_suspended_clinics(
    make_clinic: Callable[..., Tenant],
    database: Database,
    registry: TenantRegistry,
    in_clinic: InClinic,
    stub_broker: StubBroker,
) -> None:
    """A suspended clinic's outbox is not sent (its rows wait until it is active again)."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic, created_at=utcnow() - timedelta(minutes=5))
    with Session(database.engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == clinic.id).values(status=TenantStatus.SUSPENDED))
    drain(database.engine, registry, stub_broker, older_than_seconds=0)
    assert str(outbox_id) not in {m.args[0] for m in _queued(stub_broker)}
    assert _row(in_clinic, clinic, outbox_id).enqueued_at is None


def test_a_second_drainer_skips_rows_the_first_is_claiming(
    make_clinic: Callable[..., Tenant],
    database: Database,
    registry: TenantRegistry,
    in_clinic: InClinic,
    stub_broker: StubBroker,
) -> None:
    """Rows locked by another drainer's claim are skipped, not waited for and sent twice."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic, created_at=utcnow() - timedelta(minutes=5))
    with in_clinic(clinic) as first_drainer:
        first_drainer.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
        drain(database.engine, registry, stub_broker, older_than_seconds=60)
        assert str(outbox_id) not in {m.args[0] for m in _queued(stub_broker)}
    drain(database.engine, registry, stub_broker, older_than_seconds=60)
    assert str(outbox_id) in {m.args[0] for m in _queued(stub_broker)}


def test_drainer_does_not_raise_when_redis_is_down(
    make_clinic: Callable[..., Tenant], database: Database, registry: TenantRegistry, in_clinic: InClinic
) -> None:
    """A pass that cannot reach Redis logs and returns; the rows stay to do."""
    clinic = make_clinic()
    outbox_id = _add(in_clinic, clinic, created_at=utcnow() - timedelta(minutes=5))
    broker = make_broker("unix:///nonexistent/ensemble-redis.sock")
    assert drain(database.engine, registry, broker, older_than_seconds=60) == 0
    assert _row(in_clinic, clinic, outbox_id).processed_at is None
