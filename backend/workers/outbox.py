"""The transactional outbox: work written in the same transaction as the change that causes it.

Messages on Redis carry only the tenant and the outbox id; a lost message delays work (the
drainer sends it again) and never loses it, and processing is idempotent (see `process`).

Payload rule (ids only): a flat dict whose keys are snake_case names and whose values are UUIDs
(objects or canonical strings), integers, booleans or None. Any other string is refused,
because free text cannot be told apart from a name, an address or a note.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Index, String, Text, case, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.database import TenantBase, utcnow, uuid_pk
from backend.tenants.registry import TenantRegistry
from backend.tenants.routing import tenant_session

if TYPE_CHECKING:
    from dramatiq import Broker

log = logging.getLogger(__name__)

#: The actor every outbox message is sent to (declared in `backend.workers.actors`).
DELIVER_ACTOR = "deliver_outbox"
#: Processing attempts (across all deliveries of a row) before the row is marked failed.
MAX_ATTEMPTS = 5
#: The drainer (re)sends a row nobody has sent for this long; above the actor's retry backoff.
RESEND_AFTER_SECONDS = 30.0
#: Modules whose import registers outbox handlers; imported by `load_handlers`.
HANDLER_MODULES = (
    "backend.notifications.delivery",
    "backend.waitlist.offers",
    "backend.enrollment.absences",
    "backend.billing.engine",
    "backend.billing.corrections",
    "backend.billing.iop_claims",
    "backend.billing.eligibility_checks",
)


class OutboxMessage(TenantBase):
    __tablename__ = "outbox"
    __table_args__ = (
        # The drainer's scan: only rows still to do (neither processed nor failed).
        Index(
            "ix_outbox_pending",
            "created_at",
            postgresql_where=text("processed_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(80))
    # Ids only, never PHI: the payload is read by the worker from this table, not from Redis.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # Exception class only, never a message that could quote PHI.
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]


PayloadValue = str | int | bool | None
Payload = dict[str, PayloadValue]
Handler = Callable[[Session, Payload], None]


class PayloadRejected(ValueError):
    """An outbox payload that is not ids only. The message names the key, never the value."""


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help: the row is marked failed at once."""


class UnknownKind(PermanentFailure):
    """No handler is registered for the row's kind."""


_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PENDING_INFO_KEY = "ensemble.outbox_pending"


def validate_payload(payload: dict[str, Any]) -> Payload:
    """Return the payload with UUIDs as canonical strings, or raise `PayloadRejected`."""
    if not isinstance(payload, dict):
        raise PayloadRejected("outbox payload must be a dict")
    clean: Payload = {}
    for key, value in payload.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise PayloadRejected("outbox payload keys must be snake_case names")
        if value is None or isinstance(value, bool | int):
            clean[key] = value
        elif isinstance(value, uuid.UUID):
            clean[key] = str(value)
        elif isinstance(value, str) and _UUID.match(value.lower()):
            clean[key] = value.lower()
        else:
            # Name the key and the type only: the value may be PHI.
            raise PayloadRejected(
                f"outbox payload value for {key!r} is {type(value).__name__}; only ids are allowed "
                "(UUID, int, bool or None)"
            )
    return clean


def add_message(session: Session | AsyncSession, kind: str, payload: dict[str, Any]) -> OutboxMessage:
    """Add an outbox row to the caller's transaction (sync or async session; no I/O here).

    The id is generated now, so the caller can `dispatch` it after commit; it is also kept in
    `session.info` for `take_pending`.
    """
    if len(kind) > 80 or not _KIND.match(kind):
        raise ValueError("outbox kind must be a dotted lowercase name")
    message = OutboxMessage(
        id=uuid.uuid4(), kind=kind, payload=validate_payload(payload), created_at=utcnow(), attempts=0
    )
    session.add(message)
    session.info.setdefault(_PENDING_INFO_KEY, []).append(message.id)
    return message


def take_pending(session: Session | AsyncSession) -> list[uuid.UUID]:
    """Ids of outbox rows added through this session since the last call (for `dispatch`)."""
    ids: list[uuid.UUID] = session.info.pop(_PENDING_INFO_KEY, [])
    return ids


# -- handlers ---------------------------------------------------------------------------------

_handlers: dict[str, Handler] = {}
_loaded = False
_load_lock = threading.Lock()


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register `fn(session, payload)` as the handler of one outbox kind."""

    def register(fn: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and _name(existing) != _name(fn):
            raise ValueError(f"outbox kind {kind!r} already has a handler")
        _handlers[kind] = fn
        return fn

    return register


def _name(fn: Handler) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def load_handlers() -> None:
    """Import the modules that register handlers (once), so a worker knows every kind."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True


def registered_kinds() -> set[str]:
    load_handlers()
    return set(_handlers)


# -- processing -------------------------------------------------------------------------------


def process(session: Session, outbox_id: uuid.UUID | str) -> bool:
    """Run the handler of one pending row in the caller's transaction and mark it processed.

    The row is locked with `FOR UPDATE SKIP LOCKED` and only unprocessed, unfailed rows match,
    so a duplicate delivery (sequential or concurrent) is a no-op returning False; the effect
    and `processed_at` commit together, so the effect happens exactly once. The caller commits;
    on an exception it must roll back.
    """
    load_handlers()
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.id == uuid.UUID(str(outbox_id)),
            OutboxMessage.processed_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    row = session.scalars(stmt).one_or_none()
    if row is None:
        return False
    fn = _handlers.get(row.kind)
    if fn is None:
        raise UnknownKind("no handler for this outbox kind")
    token = _current.set(row)
    try:
        fn(session, dict(row.payload))
    finally:
        _current.reset(token)
    row.processed_at = utcnow()
    row.attempts += 1
    session.flush()
    return True


#: The row whose handler is running (set by `process`), for `take_batch`.
_current: ContextVar[OutboxMessage | None] = ContextVar("outbox_current", default=None)


def take_batch(session: Session, limit: int) -> list[Payload]:
    """Other pending rows of the running handler's kind, taken into its transaction (up to `limit`).

    For handlers that do per-batch work more cheaply than per-row work. The rows are locked
    (`SKIP LOCKED`: rows another worker is running are left to it) and marked processed with the
    running row, so they commit or roll back together and their own deliveries become no-ops. Only
    rows never tried are taken, and only on the running row's first attempt: a row that failed is
    retried alone, so one bad row cannot hold others back.
    """
    row = _current.get()
    if row is None or row.attempts > 0 or limit <= 0:
        return []
    taken = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == row.kind,
                OutboxMessage.id != row.id,
                OutboxMessage.processed_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.attempts == 0,
            )
            .order_by(OutboxMessage.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    now = utcnow()
    for other in taken:
        other.processed_at = now
        other.attempts += 1
    return [dict(other.payload) for other in taken]


def record_failure(
    session: Session, outbox_id: uuid.UUID, error: str, max_attempts: int = MAX_ATTEMPTS
) -> bool:
    """Count a failed attempt (exception class name only); mark the row failed at `max_attempts`.

    Also refreshes `enqueued_at`, so the drainer leaves the retry to Dramatiq's backoff.
    Returns True when the row is now failed (no more retries), False when it should be retried
    or is already done.
    """
    now = utcnow()
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.processed_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:200],
            enqueued_at=now,
            failed_at=case((OutboxMessage.attempts + 1 >= max_attempts, now), else_=None),
        )
        .returning(OutboxMessage.failed_at)
        .execution_options(synchronize_session=False)
    )
    failed = session.execute(stmt).scalar_one_or_none()
    return failed is not None


# -- sending ----------------------------------------------------------------------------------


def _send(broker: Broker, tenant_id: uuid.UUID, outbox_id: uuid.UUID) -> None:
    # The message holds the outbox id and the tenant id: nothing else, never PHI.
    broker.get_actor(DELIVER_ACTOR).send_with_options(args=(str(outbox_id),), tenant_id=str(tenant_id))


def dispatch(tenant_id: uuid.UUID, outbox_ids: Iterable[uuid.UUID], *, broker: Broker | None = None) -> int:
    """Send actor messages for rows just committed (the fast path); returns how many were sent.

    Never raises: if Redis is unreachable it logs and returns, and the drainer sends the rows
    later. Call it only after the commit, or the worker may look before the rows exist (they
    would then be sent again by the drainer, so even that only delays work).
    """
    ids = list(outbox_ids)
    if not ids:
        return 0
    sent = 0
    try:
        if broker is None:
            from backend.workers.broker import get_configured_broker

            broker = get_configured_broker()
        for outbox_id in ids:
            _send(broker, tenant_id, outbox_id)
            sent += 1
    except Exception as exc:
        log.warning(
            "outbox dispatch for tenant %s sent %d of %d messages (%s); the drainer will send the rest",
            tenant_id,
            sent,
            len(ids),
            type(exc).__name__,
        )
    return sent


def drain(
    engine: Engine,
    registry: TenantRegistry,
    broker: Broker,
    older_than_seconds: float = RESEND_AFTER_SECONDS,
    *,
    batch_size: int = 500,
) -> int:
    """Send every active tenant's rows that nobody has sent for `older_than_seconds`.

    A row is due when it is neither processed nor failed and `coalesce(enqueued_at, created_at)`
    is older than the cutoff: the fast path gets the same grace before the drainer sends a row
    it never saw. Rows are claimed with `FOR UPDATE SKIP LOCKED` and stamped `enqueued_at` in a
    short transaction that commits before sending, so two drainers do not send the same row
    and a worker never finds a row locked by the drainer. If sending fails the pass stops; the
    stamped rows are sent again after the cutoff. Returns how many messages were sent.
    """
    sent = 0
    for tenant in registry.active():
        try:
            ids = _claim_due(engine, tenant.schema_name, older_than_seconds, batch_size)
        except Exception as exc:
            log.warning("outbox drain skipped tenant %s (%s)", tenant.id, type(exc).__name__)
            continue
        try:
            for outbox_id in ids:
                _send(broker, tenant.id, outbox_id)
                sent += 1
        except Exception as exc:
            log.warning("outbox drain could not send (%s); retrying after the cutoff", type(exc).__name__)
            return sent
    if sent:
        log.info("outbox drain sent %d messages", sent)
    return sent


def _claim_due(engine: Engine, schema: str, older_than_seconds: float, batch_size: int) -> list[uuid.UUID]:
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_seconds)
    with tenant_session(engine, schema) as session:
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.processed_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    func.coalesce(OutboxMessage.enqueued_at, OutboxMessage.created_at) < cutoff,
                )
                .order_by(OutboxMessage.created_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(enqueued_at=now))
    return ids
