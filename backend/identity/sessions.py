"""Signed-in sessions: an access token plus a rotating refresh token, grouped in families.

Each sign-in starts a family; each refresh marks the presented token used and issues the next one
in the same family. A used token presented again means it was copied: the whole family is revoked,
so both the thief and the user must sign in again (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity.mfa import mfa_required
from backend.identity.models import Membership, RefreshToken, User, usable_membership
from backend.identity.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from backend.settings import Settings
from backend.tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    clinic: str


async def issue_pair(
    session: AsyncSession,
    settings: Settings,
    user: User,
    tenant_id: uuid.UUID,
    clinic: str,
    now: datetime,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    """An access token for this membership and a refresh token (a new family unless one is given)."""
    access, access_expires = issue_access_token(
        settings.secret_key, user.id, tenant_id, user.token_version, settings.access_token_seconds, now
    )
    refresh = new_refresh_token()
    refresh_expires = now + timedelta(seconds=settings.refresh_token_seconds)
    session.add(
        RefreshToken(
            token_hash=hash_refresh_token(refresh),
            family_id=family_id or uuid.uuid4(),
            user_id=user.id,
            tenant_id=tenant_id,
            issued_at=now,
            expires_at=refresh_expires,
        )
    )
    await session.flush()
    return TokenPair(access, access_expires, refresh, refresh_expires, clinic)


async def rotate(
    session: AsyncSession, settings: Settings, refresh_token: str, now: datetime
) -> TokenPair | None:
    """The next pair of the token's family, or None when the token may not be refreshed.

    On reuse (or when the membership no longer allows a session) the family is revoked in
    `session`: the caller must commit it even though the answer is a refusal.
    """
    token = (
        await session.execute(
            select(RefreshToken)
            .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    if token.used_at is not None:
        log.warning("refresh token reused: family %s of user %s revoked", token.family_id, token.user_id)
        await _revoke_family(session, token.family_id, now)
        return None
    if token.expires_at <= now:
        return None
    seat = (
        await session.execute(
            select(User, Tenant.slug, Tenant.require_mfa, Membership.roles)
            .join(Membership, Membership.user_id == User.id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(
                User.id == token.user_id,
                Membership.tenant_id == token.tenant_id,
                usable_membership(),
                User.disabled.is_(False),
            )
        )
    ).first()
    # A clinic that turned MFA on after this family began: its PHI roles must sign in again.
    if seat is None or (
        seat.User.totp_enabled_at is None and mfa_required(False, seat.require_mfa, seat.roles)
    ):
        await _revoke_family(session, token.family_id, now)
        return None
    token.used_at = now
    return await issue_pair(session, settings, seat.User, token.tenant_id, seat.slug, now, token.family_id)


async def revoke_family_of(session: AsyncSession, refresh_token: str, now: datetime) -> bool:
    """Sign out the session the token belongs to (used or not); False when the token is unknown."""
    family_id = (
        await session.execute(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
        )
    ).scalar_one_or_none()
    if family_id is None:
        return False
    await _revoke_family(session, family_id, now)
    return True


async def revoke_all(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    """Revoke every refresh token of the user and end their access tokens at once (token version).

    Returns how many sessions (families) were still open.
    """
    families = (
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(RefreshToken.family_id)
        )
    ).scalars()
    open_families = {f for f in families}
    await session.execute(update(User).where(User.id == user_id).values(token_version=User.token_version + 1))
    return len(open_families)


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
