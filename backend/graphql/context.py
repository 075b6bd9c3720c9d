"""The per-request context: who is calling, one database session in their clinic, loaders, audit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dramatiq import Broker
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from backend.compliance.audit.events import Actor, audit_row, insert_audit_rows
from backend.database import Database
from backend.graphql.errors import Unauthenticated
from backend.graphql.session import RequestSession
from backend.identity.principal import Principal
from backend.identity.throttle import LoginThrottle
from backend.settings import Settings
from backend.tenants.routing import tenant_async_engine
from backend.workers.outbox import dispatch, take_pending


@dataclass
class Context:
    request: Request | None
    settings: Settings
    db: Database
    principal: Principal | None
    client_address: str | None
    operation_name: str | None = None
    # Failed sign-in counters (Redis), one per app; None only in contexts that never sign in.
    throttle: LoginThrottle | None = None
    # Sends the outbox rows this request committed (the fast path; the drainer is the safety net).
    broker: Broker | None = None
    loaders: dict[str, Any] = field(default_factory=dict)
    _session: AsyncSession | None = None
    # Audit events of this request, written in one INSERT when its transaction commits.
    _audit_events: list[dict[str, object]] = field(default_factory=list)

    @property
    def session(self) -> AsyncSession:
        """The request's one session: in the caller's clinic schema when signed in, else `public` only.

        Tenant tables are reachable only through a signed-in principal's schema; without one they
        resolve to no schema and fail, so no request can read a clinic it has not entered.
        """
        if self._session is None:
            if self.principal is not None:
                engine = tenant_async_engine(self.db.async_engine, self.principal.schema_name)
                self._session = RequestSession(engine, expire_on_commit=False)
            else:
                self._session = RequestSession(self.db.async_engine, expire_on_commit=False)
        return self._session

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated()
        return self.principal

    def loader(self, name: str, factory: Callable[[Context], Any]) -> Any:
        """A DataLoader built once per request (never shared across requests or users)."""
        if name not in self.loaders:
            self.loaders[name] = factory(self)
        return self.loaders[name]

    def audit(
        self,
        action: str,
        resource_type: str,
        resource_id: str | None = None,
        member_id: uuid.UUID | None = None,
    ) -> None:
        """Record an audit event in the request's transaction (committed with the read or write)."""
        principal = self.require_principal()
        actor = Actor(principal.user_id, principal.tenant_id, principal.roles, self.client_address)
        self._audit_events.append(
            audit_row(actor, action, resource_type, resource_id, member_id, self.operation_name)
        )

    def audit_mark(self) -> int:
        return len(self._audit_events)

    def discard_audit_since(self, mark: int) -> None:
        """Drop the events of a mutation field whose savepoint rolled back (it stored nothing)."""
        del self._audit_events[mark:]

    async def finish(self, commit: bool) -> None:
        """Commit (or roll back) the request's transaction with its audit events, then send the outbox
        rows it wrote."""
        events, self._audit_events = self._audit_events, []
        if self._session is None and not (commit and events):
            return
        session, self._session = self.session, None
        try:
            if commit:
                if events:
                    await insert_audit_rows(session, events)
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
        pending = take_pending(session)
        if commit and pending and self.principal is not None and self.broker is not None:
            await asyncio.to_thread(dispatch, self.principal.tenant_id, pending, broker=self.broker)
