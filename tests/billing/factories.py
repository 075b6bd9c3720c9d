"""Billing rows the tests share, written through the ORM."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from backend.billing.corrections import MEMBER_REMOVED
from backend.billing.models import BillingProvider
from backend.database import Database
from backend.enrollment.models import SessionAttendee
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import add_message, process


def billing_provider() -> BillingProvider:
    """The clinic's default billing provider: a valid NPI (check digit), EIN, taxonomy and ZIP+4."""
    return BillingProvider(
        name="Harbor Behavioral Health",
        npi="1555555550",
        tax_id="123456789",
        taxonomy="261QM0801X",
        address_line1="12 Harbor St",
        city="Portland",
        state="ME",
        postal_code="041011234",
        contact_phone="2075550100",
        is_default=True,
    )


def remove_from_final_record(
    database: Database, clinic: Tenant, session_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    """What removing a member from a final record leaves for billing (the roster row marked removed
    and the outbox message, backend.documentation.signing), processed by the worker's handler."""
    with tenant_session(database.engine, clinic.schema_name) as session:
        attendee = session.get_one(SessionAttendee, (session_id, client_id))
        attendee.removed_at, attendee.removal_reason = datetime.now(UTC), "Charted in error"
        row = add_message(session, MEMBER_REMOVED, {"session_id": session_id, "client_id": client_id})
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert process(session, row.id)
