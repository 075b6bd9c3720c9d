"""Break the glass: emergency access to a member's Part 2 content, time-limited and reported.

42 CFR 2.51 lets a program disclose Part 2 records without consent to meet a bona fide medical
emergency, and requires the disclosure to be recorded (who, when, why). A grant here opens one
member's Part 2 content to one staff member for `GRANT_DURATION`; it is stored, audited by the
caller, and each one notifies the clinic's compliance officers (no PHI in the message).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clients.models import Client
from backend.compliance.csv_report import csv_text
from backend.compliance.part2.models import BreakGlassGrant
from backend.errors import FieldProblem
from backend.identity.models import Membership, User, usable_membership
from backend.notifications.delivery import queue_notification
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant

# Long enough to cover an emergency visit and its handover, short enough that a grant is not a
# standing back door; a further emergency needs a new grant with its own reason.
GRANT_DURATION = timedelta(hours=4)
REASON_MAX = 2000
NOTIFICATION_TEMPLATE = "compliance.break_glass"
NOTIFICATION_BODY = (
    "A staff member used break-the-glass emergency access to 42 CFR Part 2 records in your clinic. "
    "Review it in Ensemble under break-glass events."
)
CSV_COLUMNS = ("granted_at", "expires_at", "user_id", "staff_id", "staff_name", "member_id", "reason")


def reason_problems(reason: str) -> list[FieldProblem]:
    """A reason is required (42 CFR 2.51 records the nature of the emergency)."""
    text = reason.strip()
    if not text:
        return [FieldProblem("reason", "required", "State the medical emergency that requires access.")]
    if len(text) > REASON_MAX:
        return [FieldProblem("reason", "too_long", f"At most {REASON_MAX} characters.")]
    return []


@dataclass(frozen=True)
class BreakGlassEvent:
    id: uuid.UUID
    granted_at: datetime
    expires_at: datetime
    user_id: uuid.UUID
    staff_id: uuid.UUID | None
    staff_name: str | None
    client_id: uuid.UUID
    member_name: str
    reason: str


async def grant(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    staff_id: uuid.UUID,
    client_id: uuid.UUID,
    reason: str,
    at: datetime,
) -> BreakGlassGrant:
    """Store the grant and queue one notification per compliance officer, in the caller's transaction."""
    row = BreakGlassGrant(
        id=uuid.uuid4(),
        client_id=client_id,
        user_id=user_id,
        staff_id=staff_id,
        reason=reason.strip(),
        granted_at=at,
        expires_at=at + GRANT_DURATION,
    )
    session.add(row)
    for email in await compliance_officer_emails(session, tenant_id):
        queue_notification(session, "email", email, NOTIFICATION_TEMPLATE, NOTIFICATION_BODY)
    await session.flush()
    return row


async def compliance_officer_emails(session: AsyncSession, tenant_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.roles.contains(["compliance_officer"]),
            usable_membership(),
        )
        .order_by(User.email)
    )
    return list(rows)


async def break_glass_events(session: AsyncSession, start: datetime, end: datetime) -> list[BreakGlassEvent]:
    """Grants made in [start, end), oldest first."""
    rows = await session.execute(
        select(BreakGlassGrant, StaffMember.display_name, Client.first_name, Client.last_name)
        .join(Client, Client.id == BreakGlassGrant.client_id)
        .outerjoin(StaffMember, StaffMember.id == BreakGlassGrant.staff_id)
        .where(BreakGlassGrant.granted_at >= start, BreakGlassGrant.granted_at < end)
        .order_by(BreakGlassGrant.granted_at, BreakGlassGrant.id)
    )
    return [
        BreakGlassEvent(
            g.id,
            g.granted_at,
            g.expires_at,
            g.user_id,
            g.staff_id,
            staff,
            g.client_id,
            f"{first} {last}",
            g.reason,
        )
        for g, staff, first, last in rows
    ]


def events_csv(events: list[BreakGlassEvent]) -> str:
    """The events as CSV for the compliance officer (member by id; names stay in the application)."""
    return csv_text(
        CSV_COLUMNS,
        [
            (e.granted_at, e.expires_at, e.user_id, e.staff_id, e.staff_name, e.client_id, e.reason)
            for e in events
        ],
    )
