"""The actors, declared on a given broker by `register_actors` (a StubBroker in unit tests,
the RedisBroker in production), never at import time on a global broker."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import dramatiq
from dramatiq import Broker, Retry

from backend.workers.outbox import (
    DELIVER_ACTOR,
    MAX_ATTEMPTS,
    PermanentFailure,
    dispatch,
    load_handlers,
    process,
    record_failure,
    take_pending,
)
from backend.workers.tenancy import current_broker, current_session, current_tenant

log = logging.getLogger(__name__)

OUTBOX_QUEUE = "outbox"

#: Dramatiq's retries for the outbox actor. PostgreSQL's attempt count (MAX_ATTEMPTS, across
#: every delivery of a row) decides when a row is dead; Dramatiq's limit is the backstop for when
#: the failure could not even be recorded. The backoffs (1 s doubling, at most 20 s) stay under
#: the drainer's resend cutoff, so the drainer does not race a scheduled retry.
OUTBOX_ACTOR_OPTIONS: dict[str, Any] = {
    "max_retries": MAX_ATTEMPTS,
    "min_backoff": 1_000,
    "max_backoff": 20_000,
    "time_limit": 120_000,
}


def deliver_outbox(outbox_id: str) -> None:
    """Process one outbox row in the message's clinic; idempotent (see `outbox.process`).

    A failure is recorded on the row (exception class only) in its own transaction and the
    message is retried with `Retry`, raised outside the `except` block so neither the log nor the
    retried message carries the original exception, whose text could quote PHI.
    """
    session = current_session()
    tenant = current_tenant()
    try:
        row_id = uuid.UUID(outbox_id)
    except (TypeError, ValueError):
        log.warning("outbox message for tenant %s has no valid id: dropped", tenant.id)
        return
    try:
        if not process(session, row_id):
            log.debug("outbox %s (tenant %s) already done or taken", row_id, tenant.id)
        session.commit()
    except Exception as exc:
        error = type(exc).__name__
        permanent = isinstance(exc, PermanentFailure)
    else:
        # Work this handler caused (e.g. a notification after an offer) goes out now, not at the
        # drainer's next pass; dispatch never raises, and the drainer remains the safety net.
        dispatch(tenant.id, take_pending(session), broker=current_broker())
        return
    try:
        session.rollback()
        dead = record_failure(session, row_id, error, 1 if permanent else MAX_ATTEMPTS)
        session.commit()
    except Exception as exc:
        with contextlib.suppress(Exception):
            session.rollback()
        log.warning("outbox %s (tenant %s): failure not recorded (%s)", row_id, tenant.id, type(exc).__name__)
        raise Retry(type(exc).__name__) from None
    if dead:
        log.error("outbox %s (tenant %s) failed permanently with %s", row_id, tenant.id, error)
        return
    log.warning("outbox %s (tenant %s) failed with %s; will retry", row_id, tenant.id, error)
    raise Retry(error)


def register_actors(broker: Broker) -> None:
    """Declare our actors on `broker` (idempotent) and load the outbox handlers."""
    from backend.workers.audit_sealing import register_audit_actor

    load_handlers()
    register_audit_actor(broker)
    if DELIVER_ACTOR not in broker.actors:
        declare = dramatiq.actor(
            actor_name=DELIVER_ACTOR, queue_name=OUTBOX_QUEUE, broker=broker, **OUTBOX_ACTOR_OPTIONS
        )
        declare(deliver_outbox)
