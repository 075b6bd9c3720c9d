"""A request's audit events are written with its transaction, in the order recorded; the events of a
mutation field whose savepoint rolled back are dropped with what it stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.graphql.context import Context
from backend.identity.principal import Principal
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session


def _written(database: Database, clinic: Tenant) -> list[tuple[str | None, uuid.UUID | None, list[str]]]:
    with tenant_session(database.engine, clinic.schema_name) as session:
        rows = session.execute(
            select(AuditEvent.resource_id, AuditEvent.member_id, AuditEvent.roles).order_by(AuditEvent.id)
        )
        return [(r.resource_id, r.member_id, r.roles) for r in rows]


def _request(
    database: Database, settings: Settings, clinic: Tenant, work: Callable[[Context], None], commit: bool
) -> None:
    principal = Principal(uuid.uuid4(), clinic.id, clinic.slug, clinic.schema_name, ("clinician",), None)

    async def main() -> None:
        engine = create_async_engine(database.url, poolclass=NullPool)
        try:
            context = Context(
                None, settings, Database(database.url, database.engine, engine), principal, "10.0.0.1"
            )
            work(context)
            await context.finish(commit=commit)
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_a_requests_events_are_written_in_order_without_those_of_a_rolled_back_field(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    clinic = make_clinic()
    member = uuid.uuid4()

    def work(context: Context) -> None:
        context.audit("read", "client", "first", member)
        mark = context.audit_mark()
        context.audit("update", "group_note", "undone")  # its savepoint rolls back
        context.discard_audit_since(mark)
        context.audit("read", "member_section", "second", member)

    _request(database, settings, clinic, work, commit=True)
    assert _written(database, clinic) == [
        ("first", member, ["clinician"]),
        ("second", member, ["clinician"]),
    ]


def test_a_request_that_rolls_back_writes_no_events(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    clinic = make_clinic()
    _request(database, settings, clinic, lambda c: c.audit("read", "client", "lost"), commit=False)
    assert _written(database, clinic) == []
