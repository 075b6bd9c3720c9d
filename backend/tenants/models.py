"""The tenant registry: one row per clinic, in the shared `public` schema."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import SharedBase, utcnow, uuid_pk


class TenantStatus(enum.StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(SharedBase):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, name="tenant_status", values_callable=lambda e: [m.value for m in e])
    )
    # The Alembic revision this clinic's schema is at, written in the migration's own transaction.
    migration_revision: Mapped[str | None] = mapped_column(String(64))
    # Last migration failure (exception class and revision only: never row data).
    migration_error: Mapped[str | None] = mapped_column(Text)
    # Clinic setting: staff whose roles see PHI must use TOTP.
    require_mfa: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
