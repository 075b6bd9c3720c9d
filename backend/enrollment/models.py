"""Enrollment of a client in a program, its history, and each session's roster."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk
from backend.enrollment.rules import Attendance, EnrollmentStatus

__all__ = [
    "Attendance",
    "ClinicalContact",
    "Enrollment",
    "EnrollmentEvent",
    "EnrollmentStatus",
    "SessionAttendee",
]


class Enrollment(TenantBase):
    __tablename__ = "enrollments"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
        # A client has at most one open enrollment per program.
        Index(
            "uq_enrollments_open",
            "program_id",
            "client_id",
            unique=True,
            postgresql_where=text("status NOT IN ('graduated', 'dropped')"),
        ),
        Index("ix_enrollments_client", "client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    status: Mapped[EnrollmentStatus] = mapped_column(text_enum(EnrollmentStatus, "enrollment_status"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    # Set when the 3-consecutive-absences rule flags this member (cleared by attendance/contact).
    absence_flagged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrollmentEvent(TenantBase):
    """One change of an enrollment's status: the history the roster screen shows."""

    __tablename__ = "enrollment_events"
    __table_args__ = (Index("ix_enrollment_events_enrollment", "enrollment_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    effective_on: Mapped[date]
    # A short reason code or phrase ("3 consecutive absences", "completed arc"); no narrative.
    reason: Mapped[str | None] = mapped_column(String(200))
    # The platform user who made the change; None for the system (a worker job).
    actor_user_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionAttendee(TenantBase):
    """A member expected at (or, once marked, attending) one session."""

    __tablename__ = "session_attendees"
    __table_args__ = (Index("ix_session_attendees_client", "client_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    # None for a drop-in added to this session only.
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    attendance: Mapped[Attendance | None] = mapped_column(text_enum(Attendance, "attendance"))
    # Late arrival / early departure (backend.documentation.presence) and the minutes they leave.
    arrived_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    minutes_attended: Mapped[int | None]
    # Removed from a final record by an amendment (the member's section stays, marked).
    removed_at: Mapped[datetime | None]
    removal_reason: Mapped[str | None] = mapped_column(String(200))


class ClinicalContact(TenantBase):
    """A clinical contact with a member outside group (call, individual session, outreach reached).

    The 3-consecutive-absences rule only drops members with no clinical contact since the
    absences began.
    """

    __tablename__ = "clinical_contacts"
    __table_args__ = (Index("ix_clinical_contacts_client", "client_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(40))
