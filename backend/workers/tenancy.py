"""Carry the tenant on every Dramatiq message and bind a session to its schema while it runs.

Senders put the clinic's id in the message option `tenant_id`. Before a message is processed the
middleware resolves it through the cached `TenantRegistry` (schema name) and confirms the clinic's
status with one primary-key read; an unknown or inactive (suspended, provisioning) clinic, or a
message without a tenant, is skipped and logged by ids only, so it is never processed, and never in
some other schema (a suspended clinic's outbox rows stay to do; the drainer sends them again once it
is active). Otherwise a sync `Session` bound to that clinic's schema is opened and made available
to the actor through `current_session()`; the actor commits
its own work, and whatever it leaves uncommitted is rolled back when the session is closed after
the message (processed, failed or skipped).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.middleware import MiddlewareError, SkipMessage
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.tenants.models import Tenant, TenantStatus
from backend.tenants.registry import TenantRef, TenantRegistry
from backend.tenants.routing import tenant_engine

log = logging.getLogger(__name__)

#: The message option that carries the clinic's id.
TENANT_OPTION = "tenant_id"
#: Actor option: False for actors that are not about one clinic (no tenant, no session).
TENANT_BOUND_OPTION = "tenant_bound"


@dataclass(frozen=True)
class _Bound:
    tenant: TenantRef
    session: Session
    broker: Broker


_current: ContextVar[_Bound | None] = ContextVar("ensemble_worker_tenant", default=None)


class NoTenant(RuntimeError):
    """`current_session()` was called outside a tenant-bound message."""


def current_session() -> Session:
    """The session bound to the clinic of the message being processed on this thread."""
    bound = _current.get()
    if bound is None:
        raise NoTenant("no tenant-bound message is being processed")
    return bound.session


def current_broker() -> Broker:
    """The broker that delivered the message being processed (to send the work it causes)."""
    bound = _current.get()
    if bound is None:
        raise NoTenant("no tenant-bound message is being processed")
    return bound.broker


def current_tenant() -> TenantRef:
    """The clinic of the message being processed on this thread."""
    bound = _current.get()
    if bound is None:
        raise NoTenant("no tenant-bound message is being processed")
    return bound.tenant


class TenantUnavailable(MiddlewareError):
    """The registry could not be read: the message fails and is retried, never run unbound."""


class TenantMiddleware(Middleware):
    """Resolve `tenant_id`, open a session in that clinic's schema, close it afterwards.

    `engine` and `registry` may be given later (lazily from `get_database()`), so the API
    process, which only sends, never needs them.
    """

    def __init__(
        self,
        engine: Engine | Callable[[], Engine] | None = None,
        registry: TenantRegistry | None = None,
    ) -> None:
        self._engine_source = engine
        self._engine: Engine | None = engine if isinstance(engine, Engine) else None
        self._registry = registry
        self._lock = threading.Lock()

    @property
    def actor_options(self) -> set[str]:
        return {TENANT_BOUND_OPTION}

    def _resolve(self) -> tuple[Engine, TenantRegistry]:
        if self._engine is None or self._registry is None:
            with self._lock:
                if self._engine is None:
                    if callable(self._engine_source):
                        self._engine = self._engine_source()
                    else:
                        from backend.database import get_database

                        self._engine = get_database().engine
                if self._registry is None:
                    self._registry = TenantRegistry(self._engine)
        return self._engine, self._registry

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        actor = broker.get_actor(message.actor_name)
        if not actor.options.get(TENANT_BOUND_OPTION, True):
            return
        tenant_id = _parse_tenant(message.options.get(TENANT_OPTION))
        if tenant_id is None:
            log.warning(
                "message %s for %s has no valid tenant: skipped", message.message_id, actor.actor_name
            )
            raise SkipMessage("no tenant")
        try:
            engine, registry = self._resolve()
            tenant = registry.get(tenant_id)
        except Exception as exc:
            log.warning(
                "message %s: tenant registry unavailable (%s)", message.message_id, type(exc).__name__
            )
            raise TenantUnavailable(type(exc).__name__) from None
        session = None
        if tenant is not None and tenant.active:
            session = self._open_if_active(engine, tenant, message)
        if tenant is None or session is None:
            state = "unknown" if tenant is None else "inactive"
            log.warning("message %s for %s tenant %s: skipped", message.message_id, state, tenant_id)
            raise SkipMessage("tenant not active")
        _current.set(_Bound(tenant, session, broker))

    @staticmethod
    def _open_if_active(engine: Engine, tenant: TenantRef, message: MessageProxy) -> Session | None:
        """A session in the clinic's schema, or None if the clinic is no longer active.

        The registry is cached, so the status is confirmed (one primary-key read) in the
        transaction the actor will use: a suspension takes effect from the next message.
        """
        session = Session(tenant_engine(engine, tenant.schema_name), expire_on_commit=False)
        try:
            status = session.scalar(select(Tenant.status).where(Tenant.id == tenant.id))
        except Exception as exc:
            session.close()
            log.warning("message %s: tenant status unreadable (%s)", message.message_id, type(exc).__name__)
            raise TenantUnavailable(type(exc).__name__) from None
        if status != TenantStatus.ACTIVE:
            session.close()
            return None
        return session

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._close()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._close()

    @staticmethod
    def _close() -> None:
        bound = _current.get()
        if bound is None:
            return
        _current.set(None)
        # Rolls back anything the actor did not commit and returns the connection to the pool.
        bound.session.close()


def _parse_tenant(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class NoTracebacks(Middleware):
    """Drop the traceback Dramatiq's Retries middleware stores in a retried message.

    Redis keeps messages in clear and a traceback can quote PHI from an exception message, so a
    retried message is sent with its ids and options only.
    """

    def before_enqueue(self, broker: Broker, message: Any, delay: int) -> None:
        message.options.pop("traceback", None)
