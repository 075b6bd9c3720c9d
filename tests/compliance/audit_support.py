"""Helpers for the sealed audit log tests: write events, read the chain back, tamper with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, func, insert, select, text

from backend.compliance.audit.chain import AuditRecord, open_entry
from backend.compliance.audit.events import AuditEvent
from backend.compliance.audit.sealed_models import AuditCheckpoint, SealedAuditEntry
from backend.compliance.audit.sealing import clinic_keyring, entry_from_row, key_lookup
from backend.database import Database, utcnow
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_engine, tenant_session


def write_events(
    database: Database,
    clinic: Tenant,
    count: int,
    *,
    user_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    action: str = "read",
    label: str = "event",
) -> list[int]:
    """`count` audit events committed in one transaction, as a PHI read would write them; their ids."""
    user = user_id or uuid.uuid4()
    rows = [
        {
            "occurred_at": utcnow(),
            "user_id": user,
            "tenant_id": clinic.id,
            "roles": ["clinician"],
            "action": action,
            "resource_type": "client",
            "resource_id": f"{label}-{n}",
            "member_id": member_id,
            "client_address": "127.0.0.1",
            "operation": "Test",
        }
        for n in range(count)
    ]
    with tenant_session(database.engine, clinic.schema_name) as session:
        ids = session.scalars(insert(AuditEvent).returning(AuditEvent.id), rows).all()
    return sorted(ids)


def unsealed(database: Database, clinic: Tenant) -> int:
    with tenant_session(database.engine, clinic.schema_name) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def sealed_records(database: Database, clinic: Tenant) -> list[tuple[int, AuditRecord]]:
    """Every sealed entry, opened: (position, record), in position order."""
    with tenant_engine(database.engine, clinic.schema_name).begin() as connection:
        keys = key_lookup(clinic_keyring(connection, clinic.id))
        rows = connection.execute(select(SealedAuditEntry).order_by(SealedAuditEntry.seq)).all()
    return [(row.seq, open_entry(entry_from_row(row), keys)) for row in rows]


def checkpoint_positions(database: Database, clinic: Tenant) -> list[int]:
    with tenant_session(database.engine, clinic.schema_name) as session:
        return list(session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))


@contextmanager
def tamper_access(database: Database, clinic: Tenant) -> Iterator[Connection]:
    """A connection routed to the clinic, with the sealed tables' append-only triggers off until it ends:
    what someone with database access could do."""
    tables = [f'"{clinic.schema_name}".{name}' for name in ("sealed_audit_entries", "audit_checkpoints")]
    with tenant_engine(database.engine, clinic.schema_name).begin() as connection:
        for table in tables:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield connection
        for table in tables:
            connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def tamper(database: Database, clinic: Tenant, statements: Sequence[str]) -> None:
    """Run SQL against the sealed tables with their triggers off; `{entries}` and `{checkpoints}` in a
    statement name the clinic's tables."""
    entries = f'"{clinic.schema_name}".sealed_audit_entries'
    checkpoints = f'"{clinic.schema_name}".audit_checkpoints'
    with tamper_access(database, clinic) as connection:
        for statement in statements:
            connection.execute(text(statement.format(entries=entries, checkpoints=checkpoints)))
