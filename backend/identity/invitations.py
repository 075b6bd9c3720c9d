"""Bringing people into a clinic: a tenant admin invites an email with roles; a new user gets a
one-time code (by email, valid 7 days, only its SHA-256 stored) to set their password, and a user
another clinic already has simply gains a membership here (they sign in as before and switch).

A client (mobile) membership names the client record it is, so `myAttendance` and friends know
whose data to show.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.authorization.roles import Role
from backend.errors import FieldProblem, InputRejected
from backend.identity.accounts import (
    DISPLAY_NAME_MAX_LENGTH,
    email_problems,
    normalize_email,
    password_problems,
    validate_roles,
)
from backend.identity.models import Invitation, Membership, User
from backend.identity.passwords import hash_password
from backend.identity.tokens import hash_refresh_token, new_refresh_token

INVITATION_VALID = timedelta(days=7)
INVALID_CODE = FieldProblem("token", "invalid", "is not a usable invitation (unknown, used or expired)")


@dataclass(frozen=True)
class InvitationDraft:
    email: str
    display_name: str
    roles: list[str]
    client_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Invited:
    user: User
    membership: Membership
    #: The one-time code for a user with no password yet: sent by email, never stored or returned.
    code: str | None


def invitation_problems(draft: InvitationDraft) -> list[FieldProblem]:
    """What is wrong with an invitation's fields (pure)."""
    problems = email_problems(draft.email)
    name = draft.display_name.strip()
    if not name or len(name) > DISPLAY_NAME_MAX_LENGTH:
        problems.append(
            FieldProblem("displayName", "invalid", f"must be 1 to {DISPLAY_NAME_MAX_LENGTH} characters")
        )
    problems += validate_roles(draft.roles)
    is_client = Role.CLIENT.value in draft.roles
    if is_client and draft.client_id is None:
        problems.append(FieldProblem("clientId", "required", "a client membership names its client record"))
    if is_client and len(set(draft.roles)) > 1:
        problems.append(FieldProblem("roles", "client_only", "a client membership has no staff role"))
    if not is_client and draft.client_id is not None:
        problems.append(FieldProblem("clientId", "not_a_client", "only a client membership names one"))
    return problems


async def invite(
    session: AsyncSession, tenant_id: uuid.UUID, draft: InvitationDraft, now: datetime
) -> Invited:
    """The membership (and, for a new user, the user and a code); nothing is written on a problem."""
    problems = invitation_problems(draft)
    if problems:
        raise InputRejected(problems)
    email = normalize_email(draft.email)
    user = await session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        user = User(id=uuid.uuid4(), email=email, display_name=draft.display_name.strip(), password_hash=None)
        session.add(user)
        await session.flush()
    membership = await session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant_id)
    )
    if membership is not None and membership.active:
        raise InputRejected([FieldProblem("email", "already_member", "already has access to this clinic")])
    if membership is None:
        membership = Membership(user_id=user.id, tenant_id=tenant_id)
        session.add(membership)
    membership.roles = sorted(set(draft.roles))
    membership.client_id = draft.client_id
    membership.active = True
    code = _new_code(session, user.id, tenant_id, now) if user.password_hash is None else None
    await session.flush()
    return Invited(user, membership, code)


def _new_code(session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID, now: datetime) -> str:
    """A fresh one-time code for the user, from this clinic; only its hash is added to the session."""
    code = new_refresh_token()
    session.add(
        Invitation(
            token_hash=hash_refresh_token(code),
            user_id=user_id,
            tenant_id=tenant_id,
            expires_at=now + INVITATION_VALID,
        )
    )
    return code


async def _membership(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[User, Membership] | None:
    """The user and their membership here, the membership locked for the change."""
    found = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.user_id == user_id, Membership.tenant_id == tenant_id)
            .with_for_update(of=Membership)
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def reissue(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> Invited | None:
    """A new code for someone invited here who has not set a password yet (the email was lost or the
    code expired); the codes this clinic sent them before stop working. None: no membership here."""
    found = await _membership(session, tenant_id, user_id)
    if found is None:
        return None
    user, membership = found
    if user.password_hash is not None:
        raise InputRejected([FieldProblem("userId", "not_pending", "has already set a password")])
    if not membership.active:
        raise InputRejected([FieldProblem("userId", "inactive", "has no access here: restore it first")])
    await session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.tenant_id == tenant_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = _new_code(session, user.id, tenant_id, now)
    await session.flush()
    return Invited(user, membership, code)


async def accept(session: AsyncSession, code: str, password: str, now: datetime) -> User:
    """Set the invited user's password with their code (once, before it expires)."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_refresh_token(code)).with_for_update()
    )
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise InputRejected([INVALID_CODE])
    problems = password_problems(password)
    if problems:
        raise InputRejected(problems)
    user = await session.get_one(User, invitation.user_id)
    user.password_hash = await asyncio.to_thread(hash_password, password)  # argon2: off the event loop
    invitation.accepted_at = now
    await session.flush()
    return user


@dataclass(frozen=True)
class MembershipChange:
    roles: list[str] | None = None  # None: unchanged
    active: bool | None = None  # False: the user loses access here at their next request


async def change_membership(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    actor_id: uuid.UUID,
    change: MembershipChange,
) -> tuple[User, Membership] | None:
    """Another user's roles or access in this clinic (None: no membership here). An admin cannot take
    their own access or admin role away, so a clinic is never left without one by accident."""
    found = await _membership(session, tenant_id, user_id)
    if found is None:
        return None
    user, membership = found
    roles = membership.roles if change.roles is None else sorted(set(change.roles))
    problems = validate_roles(roles) if change.roles is not None else []
    is_client = membership.client_id is not None
    if change.roles is not None and is_client != (roles == [Role.CLIENT.value]):
        problems.append(FieldProblem("roles", "client_only", "a client membership has the client role alone"))
    if user_id == actor_id and (change.active is False or Role.TENANT_ADMIN.value not in roles):
        problems.append(FieldProblem("userId", "self", "you cannot remove your own access or admin role"))
    if problems:
        raise InputRejected(problems)
    membership.roles = roles
    if change.active is not None:
        membership.active = change.active
    await session.flush()
    return user, membership
