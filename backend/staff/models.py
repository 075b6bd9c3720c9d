"""Clinic staff who facilitate groups, their credentials, and rooms."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, utcnow, uuid_pk


class BookableResource(TenantBase):
    """Anything that cannot be in two sessions at once (a facilitator, a room).

    Its `lane` gives each resource its own stretch of the booking number line, so one GiST
    exclusion constraint on built-in int8range prevents double booking without btree_gist.
    """

    __tablename__ = "bookable_resources"

    lane: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))


class StaffMember(TenantBase):
    __tablename__ = "staff"

    id: Mapped[uuid.UUID] = uuid_pk()
    # The platform user (public.users.id) this staff member signs in as; no cross-schema FK.
    user_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[int] = mapped_column(ForeignKey("bookable_resources.lane"), unique=True)
    # Load caps; None uses the clinic default (4 groups a day, 12 a week).
    max_groups_per_day: Mapped[int | None]
    max_groups_per_week: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    # Rendering provider on claims: individual NPI and taxonomy code.
    npi: Mapped[str | None] = mapped_column(String(10))
    taxonomy: Mapped[str | None] = mapped_column(String(10))
    # A trainee's supervisor: co-signs their notes and may read the sessions they facilitate.
    supervisor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    # SHA-256 of the secret in this staff member's calendar feed URL (the secret is shown once).
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffCredential(TenantBase):
    """A credential or training (e.g. "DBT", "LCSW", "CADC") with its expiry."""

    __tablename__ = "staff_credentials"
    __table_args__ = (UniqueConstraint("staff_id", "credential"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    credential: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date | None]


class Room(TenantBase):
    __tablename__ = "rooms"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    capacity: Mapped[int | None]
    lane: Mapped[int] = mapped_column(ForeignKey("bookable_resources.lane"), unique=True)
    # SHA-256 of the secret in this room's calendar feed URL (for the door tablet or front desk).
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
