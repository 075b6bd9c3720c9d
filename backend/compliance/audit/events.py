"""Audit events: every GraphQL read or write of a member's information, captured in the same
transaction as that read or write (HIPAA 164.312(b) audit controls).

`audit_events` is the inbox of the sealed audit log: a worker seals its rows, in id order, into
`sealed_audit_entries` (encrypted, hash-chained, signed) and deletes them in the same transaction
(backend.compliance.audit.sealing). It has no index beyond its key: it is written on every PHI read and
read only by the sealer, in id order; the reports read the sealed log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, String, event, insert, inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.database import TenantBase, utcnow


class AuditEvent(TenantBase):
    __tablename__ = "audit_events"

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
        occurred_at=utcnow(),
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


_COLUMNS = tuple(c.key for c in AuditEvent.__table__.c if c.key != "id")


@event.listens_for(Session, "before_flush")
def _insert_audit_events(session: Session, flush_context: Any, instances: Any) -> None:
    """Write the session's new audit events as one multi-row INSERT without RETURNING, in the order
    they were added, instead of through the unit of work (which fetches every generated id back).

    Capture runs on every read of PHI, so its cost is added to each read: this keeps a request
    that shows 12 members (38 events) within a few milliseconds of one that captures nothing. The
    rows are written at the same point of the same transaction as the ORM would write them.
    """
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not pending:
        return
    pending.sort(key=lambda obj: inspect(obj).insert_order or 0)
    rows = [{key: getattr(obj, key) for key in _COLUMNS} for obj in pending]
    for row in rows:
        if row["occurred_at"] is None:
            row["occurred_at"] = utcnow()
    for obj in pending:
        session.expunge(obj)
    session.connection().execute(insert(AuditEvent.__table__), rows)  # type: ignore[arg-type]
