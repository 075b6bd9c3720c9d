"""The client record (one per person a clinic treats), in the clinic's schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import TenantBase, utcnow, uuid_pk


class Client(TenantBase):
    __tablename__ = "clients"
    # Keyset pagination of the client list orders by (last_name, first_name, id).
    __table_args__ = (Index("ix_clients_name_key", "last_name", "first_name", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
