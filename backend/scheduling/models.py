"""Session series (a recurrence rule), the sessions they produce, facilitators and bookings."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import INT8RANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class SessionSeries(TenantBase):
    """A recurrence (RFC 5545 RRULE, in the program's time zone) from `starts_at`'s wall time.

    Editing a series from a date ends this row's `effective_until` and starts a new row, so past
    sessions keep the rule they were made by.
    """

    __tablename__ = "session_series"

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    rrule: Mapped[str] = mapped_column(String(500))
    # Local wall-clock start of the first occurrence (naive: the zone is the program's).
    first_start: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    duration_minutes: Mapped[int]
    effective_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExceptionAction(enum.StrEnum):
    SKIP = "skip"  # no session that day (holiday)
    MOVE = "move"  # the occurrence happens at `moved_to` instead
    CANCEL = "cancel"  # the session exists, cancelled, with a reason


class SeriesException(TenantBase):
    __tablename__ = "series_exceptions"
    __table_args__ = (UniqueConstraint("series_id", "occurrence_date"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    series_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session_series.id", ondelete="CASCADE"))
    occurrence_date: Mapped[date]
    action: Mapped[ExceptionAction] = mapped_column(text_enum(ExceptionAction, "exception_action"))
    moved_to: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(200))


class SessionKind(enum.StrEnum):
    GROUP = "group"
    INDIVIDUAL = "individual"  # an individual appointment: a session with one member


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class GroupSession(TenantBase):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_sessions_program_start", "program_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    series_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("session_series.id", ondelete="SET NULL"))
    kind: Mapped[SessionKind] = mapped_column(text_enum(SessionKind, "session_kind"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id"))
    telehealth: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SessionStatus] = mapped_column(text_enum(SessionStatus, "session_status"))
    # Why it was cancelled or rescheduled (no PHI: "holiday", "facilitator ill").
    status_reason: Mapped[str | None] = mapped_column(String(200))
    rescheduled_from: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FacilitatorRole(enum.StrEnum):
    LEAD = "lead"
    CO = "co"


class SessionFacilitator(TenantBase):
    __tablename__ = "session_facilitators"
    __table_args__ = (Index("ix_session_facilitators_staff", "staff_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    role: Mapped[FacilitatorRole] = mapped_column(text_enum(FacilitatorRole, "facilitator_role"))
    # Set when this facilitator covers for the program's usual one.
    covering_for: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    # Why the usual facilitator is covered ("sick leave"); no PHI.
    coverage_reason: Mapped[str | None] = mapped_column(String(200))


class Booking(TenantBase):
    """One resource held by one (not cancelled) session.

    `span` is [lane * LANE_WIDTH + start epoch s, lane * LANE_WIDTH + end epoch s): the exclusion
    constraint makes two overlapping bookings of the same resource impossible, whatever the
    concurrency (see backend.scheduling.booking).
    """

    __tablename__ = "bookings"
    __table_args__ = (
        ExcludeConstraint(("span", "&&"), name="no_double_booking", using="gist"),
        UniqueConstraint("session_id", "lane"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    lane: Mapped[int] = mapped_column(BigInteger, ForeignKey("bookable_resources.lane"))
    span: Mapped[Range[int]] = mapped_column(INT8RANGE)
