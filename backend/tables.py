"""Imports every model module, so `SharedBase.metadata` and `TenantBase.metadata` are complete."""

from __future__ import annotations

from backend.clients import models as clients_models
from backend.compliance import audit
from backend.database import SharedBase, TenantBase
from backend.identity import models as identity_models
from backend.notifications import models as notifications_models
from backend.tenants import models as tenants_models
from backend.workers import outbox

__all__ = [
    "SharedBase",
    "TenantBase",
    "audit",
    "clients_models",
    "identity_models",
    "notifications_models",
    "outbox",
    "tenants_models",
]
