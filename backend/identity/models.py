"""Users, their clinic memberships and refresh tokens (shared `public` schema)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Index, LargeBinary, String, UniqueConstraint, and_, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import SharedBase, utcnow, uuid_pk
from backend.tenants.models import Tenant, TenantStatus


class User(SharedBase):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_lower", text("lower(email)"), unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # TOTP secret, encrypted with the platform key; enabled once the first code is confirmed.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None]
    # The last TOTP time step accepted: a code for it (or an earlier step) is never accepted again.
    totp_last_step: Mapped[int | None]
    # Bumped by revoke-all: access tokens carry it, so older ones stop working at once.
    token_version: Mapped[int] = mapped_column(default=0)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(SharedBase):
    """A user's roles in one clinic. The tenant of every request comes from here."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.users.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    # For the client role: the client record (in the clinic's schema) this user is.
    client_id: Mapped[uuid.UUID | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(SharedBase):
    """A one-time link for an invited user to set their password; only its SHA-256 is stored."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class RefreshToken(SharedBase):
    """One refresh token of a rotating family; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


def usable_membership() -> ColumnElement[bool]:
    """A membership that grants access: itself active, in an active clinic (join both tables)."""
    return and_(Membership.active.is_(True), Tenant.status == TenantStatus.ACTIVE)
