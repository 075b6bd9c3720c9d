"""The per-request context: who is calling, one database session in their clinic, loaders, audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from backend.compliance.audit import Actor, audit_event
from backend.database import Database
from backend.graphql.errors import Unauthenticated
from backend.identity.principal import Principal
from backend.identity.throttle import LoginThrottle
from backend.settings import Settings
from backend.tenants.routing import tenant_async_session


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
    loaders: dict[str, Any] = field(default_factory=dict)
    # Work to do once the request's transaction has committed (e.g. send outbox messages).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    _session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The request's one session: in the caller's clinic schema when signed in, else `public` only.

        Tenant tables are reachable only through a signed-in principal's schema; without one they
        resolve to no schema and fail, so no request can read a clinic it has not entered.
        """
        if self._session is None:
            if self.principal is not None:
                self._session = tenant_async_session(self.db.async_engine, self.principal.schema_name)
            else:
                self._session = AsyncSession(self.db.async_engine, expire_on_commit=False)
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
        self.session.add(
            audit_event(actor, action, resource_type, resource_id, member_id, self.operation_name)
        )

    async def finish(self, commit: bool) -> None:
        """Commit (or roll back) the request's transaction, then run the after-commit work."""
        if self._session is None:
            return
        try:
            if commit:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None
        if commit:
            for callback in self.after_commit:
                callback()
