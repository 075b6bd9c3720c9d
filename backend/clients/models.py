"""The client record (one per person a clinic treats), in the clinic's schema.

Contacts: the member's own phone and email are columns (notifications and reminders read them
as scalars); emergency contacts are a small JSON list on the record, because they are read and
written only as a whole with the record, never searched or joined, and one table fewer per
clinic schema keeps each backend's catalog cache lighter across thousands of clinics.

Encrypted at rest (backend.compliance.encryption.field_crypto): the direct identifiers SQL never
compares, orders or searches by, i.e. email, phone, street, city, ZIP and the emergency contacts.
Names and the date of birth stay plaintext: the client list orders and pages by name, and a
record is matched by name and birth date at intake; the state (not an identifier) stays too. Diagnoses
and coverage are tables: claims select them by member and date, and each row has its own
history (a diagnosis removed stays, with `removed_on`, for claims already dated before it).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, Index, String, and_, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.clients.rules import CoveragePriority
from backend.compliance.encryption.field_crypto import EncryptedJSON, EncryptedText
from backend.database import TenantBase, text_enum, utcnow, uuid_pk


class Client(TenantBase):
    __tablename__ = "clients"
    # Keyset pagination of the client list orders by (last_name, first_name, id).
    __table_args__ = (Index("ix_clients_name_key", "last_name", "first_name", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    # Administrative sex and home address as claims (837 DMG, N3/N4 of the subscriber) carry them.
    sex: Mapped[str | None] = mapped_column(String(1))
    address_line1: Mapped[str | None] = mapped_column(EncryptedText("clients.address_line1"))
    city: Mapped[str | None] = mapped_column(EncryptedText("clients.city"))
    state: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(EncryptedText("clients.postal_code"))
    email: Mapped[str | None] = mapped_column(EncryptedText("clients.email"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("clients.phone"))
    # [{"name": ..., "relationship": ..., "phone": ...}], at most 5 (backend.clients.rules).
    emergency_contacts: Mapped[list[dict[str, str]]] = mapped_column(
        EncryptedJSON("clients.emergency_contacts"), default=list
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientDiagnosis(TenantBase):
    """An ICD-10-CM diagnosis of the member (claims carry the member's own diagnoses)."""

    __tablename__ = "client_diagnoses"
    __table_args__ = (
        Index(
            "uq_client_diagnoses_current",
            "client_id",
            "code",
            unique=True,
            postgresql_where=text("removed_on IS NULL"),
        ),
        # At most one current primary diagnosis (the first-listed code on a claim).
        Index(
            "uq_client_diagnoses_primary",
            "client_id",
            unique=True,
            postgresql_where=text("is_primary AND removed_on IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))
    is_primary: Mapped[bool] = mapped_column(default=False)
    noted_on: Mapped[date]
    removed_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientCoverage(TenantBase):
    """The member's insurance with one payer: payer, member id, group; billing extends it.

    A coverage is for one payer for its whole life: when the member changes payer after
    authorizations or eligibility checks were recorded under it, it is ended (`ended_at`) and a new
    one takes its priority, so that history stays with the payer it came from. Only current
    coverages (`ended_at` null) are billed, checked or shown; one per priority.
    """

    __tablename__ = "client_coverages"
    __table_args__ = (
        Index(
            "uq_client_coverages_current_priority",
            "client_id",
            "priority",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    priority: Mapped[CoveragePriority] = mapped_column(text_enum(CoveragePriority, "coverage_priority"))
    payer_name: Mapped[str] = mapped_column(String(200))
    # The payer's member (subscriber) id, encrypted at rest; at most 80 characters (clients.rules).
    member_id: Mapped[str] = mapped_column(EncryptedText("client_coverages.member_id"))
    group_number: Mapped[str | None] = mapped_column(String(80))
    # The configured payer (backend.billing) claims go to; None until billing sets it up.
    payer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payers.id"))
    # Visits a year the plan pays for (behavioural-health caps are common); None: no cap.
    visit_cap: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Replaced by a coverage with another payer; kept for the history recorded under it.
    ended_at: Mapped[datetime | None]


def current_primary() -> ColumnElement[bool]:
    """The member's current primary coverage: the one billing claims to and eligibility checks ask."""
    return and_(ClientCoverage.priority == CoveragePriority.PRIMARY, ClientCoverage.ended_at.is_(None))


class Authorization(TenantBase):
    """A payer's prior authorization for a service (backend.billing.authorizations.AuthorizedService)
    for one member: N sessions (IOP/PHP: days) between two dates. Billing (the claim engine) counts
    one use per new claim, or per IOP/PHP day decided billed, exactly once."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("sessions_authorized > 0", name="sessions_positive"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        Index("ix_authorizations_client", "client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    coverage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_coverages.id", ondelete="CASCADE"))
    # The payer's authorization number.
    reference: Mapped[str] = mapped_column(String(50))
    service: Mapped[str] = mapped_column(String(40), default="group_psychotherapy")
    sessions_authorized: Mapped[int]
    sessions_used: Mapped[int] = mapped_column(default=0)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
