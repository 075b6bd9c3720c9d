"""The group session record as stored: one record per session, a section per member, signatures.

The record is the session's documentation: the group note (shared by every attendee), one
member section per roster member (an absence note for an absent one), each facilitator's own
observations, signatures with co-signatures, and, once final, dated addenda. Attendance itself
stays on `session_attendees` (backend.enrollment), which the record reads.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.compliance.encryption.field_crypto import EncryptedJSON, EncryptedText
from backend.database import TenantBase, text_enum, utcnow, uuid_pk
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import RiskLevel, Scope
from backend.enrollment.rules import Attendance


class SessionRecord(TenantBase):
    __tablename__ = "session_records"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    # Actual start and stop (the scheduled times until recorded).
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # The template in force when the record was opened: later edits by the admin do not change
    # what an open or signed record requires.
    template: Mapped[dict[str, object]] = mapped_column(JSONB)
    # Note text, risk assessments and identifiers are encrypted at rest
    # (backend.compliance.encryption.field_crypto).
    group_note: Mapped[dict[str, object]] = mapped_column(
        EncryptedJSON("session_records.group_note"), default=dict
    )
    status: Mapped[RecordStatus] = mapped_column(text_enum(RecordStatus, "record_status"))
    finalized_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberSection(TenantBase):
    """One member's individual section (or absence note) in one session record."""

    __tablename__ = "member_sections"
    __table_args__ = (
        ForeignKeyConstraint(
            ["session_id", "client_id"],
            ["session_attendees.session_id", "session_attendees.client_id"],
            ondelete="CASCADE",
        ),
        Index("ix_member_sections_client", "client_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[Scope] = mapped_column(text_enum(Scope, "section_scope"))
    # The section, risk assessment included (encrypted at rest).
    content: Mapped[dict[str, object]] = mapped_column(EncryptedJSON("member_sections.content"), default=dict)
    # Another member's name found in this section at signing: [{"clientId", "start", "end"}].
    name_flags: Mapped[list[dict[str, object]]] = mapped_column(
        EncryptedJSON("member_sections.name_flags"), default=list
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Observation(TenantBase):
    """A facilitator's own observations in a shared record: about the group (no client) or a member."""

    __tablename__ = "facilitator_observations"
    __table_args__ = (
        UniqueConstraint("session_id", "staff_id", "client_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_records.session_id", ondelete="CASCADE")
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(EncryptedText("facilitator_observations.text"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordSignature(TenantBase):
    __tablename__ = "record_signatures"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_records.session_id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    signed_at: Mapped[datetime]
    # A trainee's signature needs a supervisor's co-signature before the record is final.
    requires_cosign: Mapped[bool] = mapped_column(default=False)
    supervisor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    cosigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    cosigned_at: Mapped[datetime | None]


class Addendum(TenantBase):
    """A dated change to a final record, by its author; about one member or the group."""

    __tablename__ = "record_addenda"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_records.session_id", ondelete="CASCADE")
    )
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(EncryptedText("record_addenda.text"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupervisionNote(TenantBase):
    __tablename__ = "supervision_notes"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_records.session_id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(EncryptedText("supervision_notes.text"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskFlag(TenantBase):
    """A risk level of moderate or above recorded in a final member section, open until resolved."""

    __tablename__ = "risk_flags"
    __table_args__ = (
        Index("ix_risk_flags_client_open", "client_id", postgresql_where="resolved_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    level: Mapped[RiskLevel] = mapped_column(text_enum(RiskLevel, "risk_level"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))


class BillableEvent(TenantBase):
    """One present member of a closed session: the work the claim engine consumes.

    Written in the transaction that makes the record final, so documentation and billing can
    never disagree about who was there; unique per session and member, so closing is idempotent.
    """

    __tablename__ = "billable_events"
    __table_args__ = (
        UniqueConstraint("session_id", "client_id"),
        Index("ix_billable_events_unconsumed", "created_at", postgresql_where="consumed_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollments.id"))
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"))
    service_date: Mapped[date]
    attendance: Mapped[Attendance] = mapped_column(text_enum(Attendance, "billable_attendance"))
    minutes_attended: Mapped[int]
    session_minutes: Mapped[int]
    present_count: Mapped[int]
    telehealth: Mapped[bool]
    cpt: Mapped[str | None] = mapped_column(String(5))
    #: An IOP/PHP day billed under an authorization: the one it used, set once when the day is
    #: decided billed (so a re-run counts it once) and carried by the week's claim.
    authorization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("authorizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    consumed_at: Mapped[datetime | None]


class StoredTemplate(TenantBase):
    """A tenant admin's note template for a modality (the built-in one applies until set)."""

    __tablename__ = "note_templates"

    modality: Mapped[str] = mapped_column(String(30), primary_key=True)
    template: Mapped[dict[str, object]] = mapped_column(JSONB)
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
