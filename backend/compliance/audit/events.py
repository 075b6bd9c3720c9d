"""Audit events: every GraphQL read or write of a member's information, captured in the same
transaction as that read or write (HIPAA 164.312(b) audit controls).

`audit_events` is the inbox of the sealed audit log: a worker seals its rows, in id order, into
`sealed_audit_entries` (encrypted, hash-chained, signed) and deletes them in the same transaction
(backend.compliance.audit.sealing). It has no index beyond its key: it is written on every PHI read and
read only by the sealer, in id order; the reports read the sealed log.

A request collects its events (`audit_row`, in backend.graphql.context) and writes them in one
statement just before its transaction commits: capture runs on every read of PHI, so its cost is
added to each read (a view of 12 members records 38 events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import (
    BigInteger,
    Executable,
    Identity,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

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


_COLUMNS = tuple(c.key for c in AuditEvent.__table__.c if c.key != "id")


def audit_row(
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    member_id: uuid.UUID | None,
    operation: str | None,
) -> dict[str, object]:
    """One event as a JSON row for `insert_audit_rows` (a request captures dozens: no ORM objects)."""
    return {
        "occurred_at": utcnow().isoformat(),
        "user_id": str(actor.user_id),
        "tenant_id": str(actor.tenant_id),
        "roles": list(actor.roles),
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "member_id": str(member_id) if member_id else None,
        "client_address": actor.client_address,
        "operation": operation,
    }


@lru_cache(maxsize=1)
def _insert_rows_statement() -> Executable:
    """INSERT ... SELECT FROM jsonb_to_recordset(:rows): one statement of constant text (prepared
    once per connection) whatever the number of events, in the order given."""
    table = cast(Table, AuditEvent.__table__)
    rows = (
        func.jsonb_to_recordset(bindparam("rows", type_=JSONB))
        .table_valued(*(column(key, table.c[key].type) for key in _COLUMNS))
        .render_derived(name="event", with_types=True)
    )
    return insert(table).from_select(list(_COLUMNS), select(*(rows.c[key] for key in _COLUMNS)))


async def insert_audit_rows(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Write `audit_row` rows in the session's transaction."""
    await session.execute(_insert_rows_statement(), {"rows": rows})
