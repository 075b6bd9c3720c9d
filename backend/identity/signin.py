"""Signing in: password, choice of clinic, second factor, and moving to another clinic.

Every step answers with a value: a `TokenPair`, an `MfaPending` challenge, an `Enrollment`, or a
`Refused` naming why. Failed passwords and TOTP codes count toward the login throttle, which is
consulted before any of them is checked; the account's counter is cleared only when a session is
actually issued, so knowing the password does not buy more guesses at the second factor.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity import totp
from backend.identity.mfa import ChallengeClaims, decode_challenge, issue_challenge, mfa_required
from backend.identity.models import Membership, User, usable_membership
from backend.identity.passwords import hash_password, needs_rehash, verify_against_nothing, verify_password
from backend.identity.secrets_box import SecretBox
from backend.identity.sessions import TokenPair, issue_pair
from backend.identity.throttle import LoginThrottle
from backend.settings import Settings
from backend.tenants.models import Tenant


class Refusal(enum.StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    CLINIC_REQUIRED = "clinic_required"
    CLINIC_NOT_AVAILABLE = "clinic_not_available"
    INVALID_CHALLENGE = "invalid_challenge"
    INVALID_CODE = "invalid_code"
    MFA_ALREADY_ENABLED = "mfa_already_enabled"
    MFA_NOT_ENROLLED = "mfa_not_enrolled"


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    retry_after_seconds: int = 0
    # For CLINIC_REQUIRED only: the slugs of the clinics the user may choose from.
    clinics: tuple[str, ...] = ()


@dataclass(frozen=True)
class MfaPending:
    """The password was right; a TOTP code (or enrolment, when `enrolled` is False) must follow."""

    challenge: str
    expires_at: datetime
    enrolled: bool
    clinic: str


@dataclass(frozen=True)
class Enrollment:
    """A new TOTP secret, shown once; it is enabled only when a code made from it is confirmed."""

    secret: str
    provisioning_uri: str


@dataclass(frozen=True)
class MfaEnabled:
    enabled_at: datetime


@dataclass(frozen=True)
class Seat:
    """An active membership in an active clinic."""

    tenant_id: uuid.UUID
    slug: str
    roles: tuple[str, ...]
    clinic_requires_mfa: bool


class SignIn:
    """The sign-in steps for one request: its session, the app's throttle and the caller's address."""

    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        throttle: LoginThrottle,
        address: str | None,
        now: datetime,
    ) -> None:
        self.session = session
        self.settings = settings
        self.throttle = throttle
        self.address = address
        self.now = now
        self._box = SecretBox(settings.secret_key)

    # -- password ---------------------------------------------------------------------------

    async def login(self, email: str, password: str, clinic: str | None) -> TokenPair | MfaPending | Refused:
        account = self.throttle.account_key(email)
        wait = await self.throttle.retry_after(account, self.address)
        if wait:
            return Refused(Refusal.TOO_MANY_ATTEMPTS, retry_after_seconds=wait)
        user = (
            await self.session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
        ).scalar_one_or_none()
        if user is None or user.password_hash is None:
            await asyncio.to_thread(verify_against_nothing, password)
            ok = False
        else:
            ok = await asyncio.to_thread(verify_password, user.password_hash, password)
        if not ok or user is None or user.disabled:
            await self.throttle.record_failure(account, self.address)
            return Refused(Refusal.INVALID_CREDENTIALS)
        if user.password_hash is not None and needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        seats = await self._seats(user.id)
        if clinic:
            seat = next((s for s in seats if s.slug == clinic.strip().lower()), None)
            if seat is None:
                return Refused(Refusal.CLINIC_NOT_AVAILABLE)
        elif len(seats) == 1:
            seat = seats[0]
        elif not seats:
            return Refused(Refusal.CLINIC_NOT_AVAILABLE)
        else:
            return Refused(Refusal.CLINIC_REQUIRED, clinics=tuple(s.slug for s in seats))
        return await self._enter(user, seat)

    async def switch_clinic(self, user_id: uuid.UUID, clinic: str) -> TokenPair | MfaPending | Refused:
        """Another membership of the signed-in user; the target clinic's MFA rule applies."""
        user = await self.session.get(User, user_id)
        seat = next((s for s in await self._seats(user_id) if s.slug == clinic.strip().lower()), None)
        if user is None or user.disabled or seat is None:
            return Refused(Refusal.CLINIC_NOT_AVAILABLE)
        return await self._enter(user, seat)

    # -- second factor ----------------------------------------------------------------------

    async def verify_mfa(self, challenge: str, code: str) -> TokenPair | Refused:
        found = await self._challenged(challenge)
        if isinstance(found, Refused):
            return found
        user, seat = found
        if user.totp_enabled_at is None or user.totp_secret is None:
            return Refused(Refusal.MFA_NOT_ENROLLED)
        refused = await self._check_code(user, code)
        if refused is not None:
            return refused
        return await self._issue(user, seat)

    async def begin_enrollment(
        self, challenge: str | None, user_id: uuid.UUID | None
    ) -> Enrollment | Refused:
        """A new pending secret for the challenged user, or for the signed-in user when no challenge."""
        found = await self._enrolling_user(challenge, user_id)
        if isinstance(found, Refused):
            return found
        user = found
        if user.totp_enabled_at is not None:
            return Refused(Refusal.MFA_ALREADY_ENABLED)
        wait = await self.throttle.retry_after(self.throttle.account_key(user.email), self.address)
        if wait:
            return Refused(Refusal.TOO_MANY_ATTEMPTS, retry_after_seconds=wait)
        secret = totp.new_secret()
        user.totp_secret = self._box.encrypt(secret.encode(), user.id.bytes)
        user.totp_last_step = None
        return Enrollment(secret=secret, provisioning_uri=totp.provisioning_uri(secret, user.email))

    async def confirm_enrollment(
        self, challenge: str | None, user_id: uuid.UUID | None, code: str
    ) -> TokenPair | MfaEnabled | Refused:
        """Enable TOTP once a code from the pending secret checks; a challenge also gets its session."""
        if challenge is not None:
            found = await self._challenged(challenge)
            if isinstance(found, Refused):
                return found
            user, seat = found
        elif user_id is not None:
            enrolling = await self._enrolling_user(None, user_id)
            if isinstance(enrolling, Refused):
                return enrolling
            user, seat = enrolling, None
        else:
            return Refused(Refusal.INVALID_CHALLENGE)
        if user.totp_enabled_at is not None:
            return Refused(Refusal.MFA_ALREADY_ENABLED)
        if user.totp_secret is None:
            return Refused(Refusal.MFA_NOT_ENROLLED)
        refused = await self._check_code(user, code)
        if refused is not None:
            return refused
        user.totp_enabled_at = self.now
        if seat is None:
            await self.throttle.reset(self.throttle.account_key(user.email))
            return MfaEnabled(enabled_at=self.now)
        return await self._issue(user, seat)

    # -- steps shared by the flows ----------------------------------------------------------

    async def _seats(self, user_id: uuid.UUID) -> list[Seat]:
        rows = (
            await self.session.execute(
                select(Tenant.id, Tenant.slug, Tenant.require_mfa, Membership.roles)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(
                    Membership.user_id == user_id,
                    usable_membership(),
                )
                .order_by(Tenant.slug)
            )
        ).all()
        return [Seat(r.id, r.slug, tuple(sorted(r.roles)), r.require_mfa) for r in rows]

    async def _enter(self, user: User, seat: Seat) -> TokenPair | MfaPending:
        enrolled = user.totp_enabled_at is not None
        if mfa_required(enrolled, seat.clinic_requires_mfa, seat.roles):
            challenge, expires = issue_challenge(
                self.settings.secret_key, user.id, seat.tenant_id, user.token_version, self.now
            )
            return MfaPending(challenge=challenge, expires_at=expires, enrolled=enrolled, clinic=seat.slug)
        return await self._issue(user, seat)

    async def _issue(self, user: User, seat: Seat) -> TokenPair:
        await self.throttle.reset(self.throttle.account_key(user.email))
        return await issue_pair(self.session, self.settings, user, seat.tenant_id, seat.slug, self.now)

    async def _challenged(self, challenge: str) -> tuple[User, Seat] | Refused:
        """The user and membership a challenge is bound to, if both still allow signing in."""
        claims: ChallengeClaims | None = decode_challenge(self.settings.secret_key, challenge)
        if claims is None:
            return Refused(Refusal.INVALID_CHALLENGE)
        user = await self.session.get(User, claims.user_id, with_for_update=True)
        if user is None or user.disabled or user.token_version != claims.token_version:
            return Refused(Refusal.INVALID_CHALLENGE)
        seat = next((s for s in await self._seats(user.id) if s.tenant_id == claims.tenant_id), None)
        if seat is None:
            return Refused(Refusal.INVALID_CHALLENGE)
        return user, seat

    async def _enrolling_user(self, challenge: str | None, user_id: uuid.UUID | None) -> User | Refused:
        if challenge is not None:
            found = await self._challenged(challenge)
            return found if isinstance(found, Refused) else found[0]
        user = await self.session.get(User, user_id, with_for_update=True) if user_id else None
        if user is None or user.disabled:
            return Refused(Refusal.INVALID_CHALLENGE)
        return user

    async def _check_code(self, user: User, code: str) -> Refused | None:
        """None when `code` is a fresh valid code of the user's secret (its step is then used up)."""
        account = self.throttle.account_key(user.email)
        wait = await self.throttle.retry_after(account, self.address)
        if wait:
            return Refused(Refusal.TOO_MANY_ATTEMPTS, retry_after_seconds=wait)
        assert user.totp_secret is not None
        secret = self._box.decrypt(user.totp_secret, user.id.bytes).decode()
        step = totp.matching_step(secret, code, user.totp_last_step, self.now.timestamp())
        if step is not None:
            # Conditional, so two requests racing with one code cannot both pass.
            claimed = await self.session.execute(
                update(User)
                .where(User.id == user.id)
                .where((User.totp_last_step.is_(None)) | (User.totp_last_step < step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                user.totp_last_step = step
                return None
        await self.throttle.record_failure(account, self.address)
        return Refused(Refusal.INVALID_CODE)
