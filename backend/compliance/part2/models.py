"""Tables of 42 CFR Part 2: a member's consents (with their recipients) and break-the-glass grants.

The `part2` flag of a program lives on `programs` (backend.programs.models).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.compliance.part2.consents import ORGANIZATION_NAME_MAX, RecipientKind
from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class Consent(TenantBase):
    """A member's written consent to disclose Part 2 records (42 CFR 2.31)."""

    __tablename__ = "part2_consents"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("ends_at IS NOT NULL OR end_event IS NOT NULL", name="has_end"),
        Index("ix_part2_consents_client", "client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # Purpose and Category values (backend.compliance.part2.consents), validated before storing.
    purposes: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    other_purpose: Mapped[str | None] = mapped_column(String(300))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    end_event: Mapped[str | None] = mapped_column(String(300))
    end_event_recorded_at: Mapped[datetime | None]
    end_event_recorded_by: Mapped[uuid.UUID | None]
    revoked_at: Mapped[datetime | None]
    # The platform user (public.users.id) who recorded the revocation; no cross-schema FK.
    revoked_by: Mapped[uuid.UUID | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentRecipient(TenantBase):
    """One recipient a consent names: a program, a staff member, a payer (by id), an organisation
    outside the clinic (by name), or TPO (neither). No foreign key on `recipient_id`: it points to one
    of three tables depending on `kind`."""

    __tablename__ = "part2_consent_recipients"
    __table_args__ = (
        CheckConstraint(
            "(kind IN ('tpo', 'organization')) = (recipient_id IS NULL)", name="recipient_id_by_kind"
        ),
        CheckConstraint("(kind = 'organization') = (name IS NOT NULL)", name="name_for_organization"),
        Index("ix_part2_consent_recipients_consent", "consent_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("part2_consents.id", ondelete="CASCADE"))
    kind: Mapped[RecipientKind] = mapped_column(text_enum(RecipientKind, "recipient_kind"))
    recipient_id: Mapped[uuid.UUID | None]
    name: Mapped[str | None] = mapped_column(String(ORGANIZATION_NAME_MAX))


class BreakGlassGrant(TenantBase):
    """Emergency access (42 CFR 2.51, medical emergency) by one user to one member's Part 2 content."""

    __tablename__ = "break_glass_grants"
    __table_args__ = (
        CheckConstraint("expires_at > granted_at", name="expires_after_grant"),
        CheckConstraint("length(btrim(reason)) > 0", name="reason_given"),
        Index("ix_break_glass_grants_client", "client_id", "user_id"),
        Index("ix_break_glass_grants_granted", "granted_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # The platform user (public.users.id) who broke the glass, and their staff record if any.
    user_id: Mapped[uuid.UUID]
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
