"""The disclosures table: one row per release of a member's Part 2 information (42 CFR 2.25, 2.32).

Append-only: nothing in the API updates or deletes a row. Kinds, purposes and categories are plain
strings checked by backend.compliance.disclosures.rules (consents own those vocabularies; a value added
there needs no change to this table).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.compliance.disclosures.rules import Channel, DisclosedTo, Notice
from backend.compliance.part2.models import Consent
from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class DisclosureRow(TenantBase):
    __tablename__ = "disclosures"
    __table_args__ = (
        # A member's accounting (by member, newest first) and the compliance officer's list (by time).
        Index("ix_disclosures_client_at", "client_id", "disclosed_at"),
        Index("ix_disclosures_at", "disclosed_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    disclosed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The staff user who released it; None for the system (claims sent by the billing worker).
    disclosed_by: Mapped[uuid.UUID | None]
    recipient_kind: Mapped[DisclosedTo] = mapped_column(text_enum(DisclosedTo, "disclosure_recipient_kind"))
    recipient_id: Mapped[uuid.UUID | None]
    recipient_name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(20))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    # What was disclosed, in words without PHI (counts and kinds, never note text or codes).
    description: Mapped[str] = mapped_column(String(300))
    consent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(Consent.id))
    # 42 CFR 2.32(b): the explanation of the consent's scope that went with the record.
    consent_scope: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[Channel] = mapped_column(text_enum(Channel, "disclosure_channel"))
    notice: Mapped[Notice] = mapped_column(text_enum(Notice, "disclosure_notice"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
