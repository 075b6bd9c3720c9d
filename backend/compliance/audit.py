"""Audit events: every GraphQL read or write of a member's information, captured in the same
transaction as that read or write (HIPAA 164.312(b) audit controls). Sealing comes later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, utcnow


class AuditEvent(TenantBase):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_member", "member_id", "occurred_at"),)

    # A sequence, not a UUID: the sealing chain needs the order events were written in.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[uuid.UUID]
    tenant_id: Mapped[uuid.UUID]
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    action: Mapped[str] = mapped_column(String(20))
    resource_type: Mapped[str] = mapped_column(String(60))
    resource_id: Mapped[str | None] = mapped_column(String(80))
    member_id: Mapped[uuid.UUID | None]
    client_address: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(100))


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which clinic, from where: the fields every audit event carries."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: tuple[str, ...]
    client_address: str | None


def audit_event(
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    member_id: uuid.UUID | None,
    operation: str | None,
) -> AuditEvent:
    return AuditEvent(
        user_id=actor.user_id,
        tenant_id=actor.tenant_id,
        roles=list(actor.roles),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        member_id=member_id,
        client_address=actor.client_address,
        operation=operation,
    )
