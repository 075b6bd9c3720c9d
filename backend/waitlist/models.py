"""Waitlist entries: a client waiting for a place in a program, with intake screening."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk
from backend.waitlist.rules import Urgency, WaitlistStatus

__all__ = ["Separation", "Urgency", "WaitlistEntry", "WaitlistStatus"]


class WaitlistEntry(TenantBase):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        # A client waits at most once per program.
        Index(
            "uq_waitlist_entries_open",
            "program_id",
            "client_id",
            unique=True,
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
        Index("ix_waitlist_entries_program_status", "program_id", "status", "added_on"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    status: Mapped[WaitlistStatus] = mapped_column(text_enum(WaitlistStatus, "waitlist_status"))
    added_on: Mapped[date]
    urgency: Mapped[Urgency] = mapped_column(text_enum(Urgency, "urgency"), default=Urgency.ROUTINE)
    # ICD-10-CM codes the referral is for.
    diagnoses: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    # Program-specific screening answers (backend.intake) and contraindications found.
    screening: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    contraindications: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    high_acuity: Mapped[bool] = mapped_column(default=False)
    # [{"weekday": 0-6 (Monday 0), "start": "HH:MM", "end": "HH:MM"}] in the program's zone.
    availability: Mapped[list[dict[str, object]]] = mapped_column(JSONB, default=list)
    referrer_name: Mapped[str | None] = mapped_column(String(200))
    referrer_contact: Mapped[str | None] = mapped_column(String(320))
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    # Set when an offer lapsed unanswered: the entry went back to WAITING (see backend.waitlist.offers).
    last_offer_expired_at: Mapped[datetime | None]
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Separation(TenantBase):
    """Two clients who must not be placed in the same group (a do-not-group-together pair)."""

    __tablename__ = "client_separations"

    client_a: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    client_b: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str | None] = mapped_column(String(200))
