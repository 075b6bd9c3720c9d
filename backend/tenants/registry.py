"""A cached view of the tenant registry, so routing does not query `public` on every message."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select

from backend.tenants.models import Tenant, TenantStatus


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    slug: str
    schema_name: str
    active: bool


class TenantRegistry:
    def __init__(self, engine: Engine, ttl_seconds: float = 30.0) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._by_id: dict[uuid.UUID, TenantRef] = {}
        self._loaded_at = 0.0

    def get(self, tenant_id: uuid.UUID) -> TenantRef | None:
        ref = self._by_id.get(tenant_id)
        if ref is None or time.monotonic() - self._loaded_at > self._ttl:
            self.reload()
            ref = self._by_id.get(tenant_id)
        return ref

    def active(self) -> list[TenantRef]:
        if time.monotonic() - self._loaded_at > self._ttl:
            self.reload()
        return [ref for ref in self._by_id.values() if ref.active]

    def reload(self) -> None:
        stmt = select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.status)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        refs = {r.id: TenantRef(r.id, r.slug, r.schema_name, r.status == TenantStatus.ACTIVE) for r in rows}
        with self._lock:
            self._by_id = refs
            self._loaded_at = time.monotonic()
