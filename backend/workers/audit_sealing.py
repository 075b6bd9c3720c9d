"""The sealing actor and what sends it.

Nothing is lost if a message is: the events wait in `audit_events` (written in the PHI
transaction) until a sealer runs. What runs one:

- the worker's drainer thread, every `SEAL_NUDGE_SECONDS`, sends `seal_audit_log` to each active
  clinic with pending events (`SealingNudger`);
- the compliance reports and `verifyAuditLog` seal the caller's clinic first;
- `ensemble audit seal` (all clinics, or `--clinic SLUG`), for operators and cron.

The message carries the clinic id only. The actor seals until nothing is pending; when another
sealer of the same clinic holds the chain head it returns at once (that one is already sealing,
and the next nudge picks up whatever it missed), so a backlog never ties up several threads.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import dramatiq
from dramatiq import Broker
from sqlalchemy import Engine, select

from backend.compliance.audit.events import AuditEvent
from backend.compliance.audit.sealing import seal_pending
from backend.compliance.encryption.keys import KeysDestroyed
from backend.tenants.registry import TenantRegistry
from backend.workers.tenancy import TENANT_OPTION, current_session, current_tenant

log = logging.getLogger(__name__)

SEAL_ACTOR = "seal_audit_log"
AUDIT_QUEUE = "audit"
#: How often the drainer looks for clinics with events to seal.
SEAL_NUDGE_SECONDS = 5.0
SEAL_ACTOR_OPTIONS: dict[str, Any] = {
    "max_retries": 10,
    "min_backoff": 1_000,
    "max_backoff": 60_000,
    # A large backlog seals in many committed batches; a run cut short loses only its open batch.
    "time_limit": 15 * 60_000,
}


def seal_audit_log() -> None:
    """Seal the message's clinic's pending audit events (idempotent; see `sealing.seal_pending`)."""
    session = current_session()
    tenant = current_tenant()
    try:
        result = seal_pending(session, tenant.id, wait=False)
    except KeysDestroyed:
        session.rollback()
        log.warning("audit sealing skipped for tenant %s: its keys were destroyed", tenant.id)
        return
    if result.busy:
        log.debug("audit sealing for tenant %s already running", tenant.id)
    elif result.sealed:
        log.info("sealed %d audit events for tenant %s (head %d)", result.sealed, tenant.id, result.head_seq)


def register_audit_actor(broker: Broker) -> None:
    """Declare the sealing actor on `broker` (idempotent)."""
    if SEAL_ACTOR not in broker.actors:
        declare = dramatiq.actor(
            actor_name=SEAL_ACTOR, queue_name=AUDIT_QUEUE, broker=broker, **SEAL_ACTOR_OPTIONS
        )
        declare(seal_audit_log)


def nudge(broker: Broker, tenant_id: uuid.UUID) -> bool:
    """Ask a worker to seal one clinic; never raises (the next nudge retries)."""
    try:
        options: dict[str, Any] = {TENANT_OPTION: str(tenant_id)}
        broker.get_actor(SEAL_ACTOR).send_with_options(**options)
    except Exception as exc:
        log.warning("audit sealing nudge for tenant %s not sent (%s)", tenant_id, type(exc).__name__)
        return False
    return True


class SealingNudger:
    """Called on every drainer pass; every `interval` seconds nudges each clinic with pending events."""

    def __init__(
        self, engine: Engine, registry: TenantRegistry, broker: Broker, interval: float = SEAL_NUDGE_SECONDS
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.broker = broker
        self.interval = interval
        self._last = float("-inf")

    def tick(self) -> int:
        """Nudge when due; returns how many clinics were nudged. Never raises."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return 0
        self._last = now
        try:
            return self.nudge_pending()
        except Exception as exc:
            log.warning("audit sealing pass failed (%s)", type(exc).__name__)
            return 0

    def nudge_pending(self) -> int:
        """One connection for the pass: an index probe of `audit_events` per active clinic."""
        nudged = 0
        probe = select(AuditEvent.id).limit(1)
        with self.engine.connect() as connection:
            for tenant in self.registry.active():
                routed = {"schema_translate_map": {None: tenant.schema_name}}
                try:
                    pending = connection.execute(probe, execution_options=routed).first() is not None
                except Exception as exc:  # e.g. a clinic not migrated yet: the others go on
                    log.warning(
                        "audit sealing probe failed for tenant %s (%s)", tenant.id, type(exc).__name__
                    )
                    pending = False
                connection.rollback()
                if pending and nudge(self.broker, tenant.id):
                    nudged += 1
        return nudged
