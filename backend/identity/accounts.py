"""Creating users and granting them roles in a clinic (used by the CLI, e.g. `ensemble demo`).

Validation is a pure function returning field problems; the store functions raise
`InputRejected` with them, so nothing is written for bad input.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.authorization.roles import Role
from backend.errors import FieldProblem, InputRejected
from backend.identity.models import Membership, User
from backend.identity.passwords import hash_password
from backend.tenants.models import Tenant

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
EMAIL_MAX_LENGTH = 320
DISPLAY_NAME_MAX_LENGTH = 200
# One @, no spaces, a dot in the domain: enough to catch typos; delivery proves the rest.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def normalize_email(email: str) -> str:
    return email.strip()


def email_problems(email: str) -> list[FieldProblem]:
    email = normalize_email(email)
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL.match(email):
        return [FieldProblem("email", "invalid", "is not an email address")]
    return []


def password_problems(password: str) -> list[FieldProblem]:
    """Length only (the password itself is never quoted)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return [FieldProblem("password", "too_short", f"needs at least {PASSWORD_MIN_LENGTH} characters")]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [FieldProblem("password", "too_long", f"exceeds {PASSWORD_MAX_LENGTH} characters")]
    return []


def validate_account(email: str, display_name: str, password: str) -> list[FieldProblem]:
    """Problems with a new account's fields."""
    problems = email_problems(email)
    if not display_name.strip():
        problems.append(FieldProblem("displayName", "required", "is required"))
    elif len(display_name.strip()) > DISPLAY_NAME_MAX_LENGTH:
        problems.append(
            FieldProblem("displayName", "too_long", f"exceeds {DISPLAY_NAME_MAX_LENGTH} characters")
        )
    return problems + password_problems(password)


def validate_roles(roles: list[str]) -> list[FieldProblem]:
    known = {r.value for r in Role}
    unknown = sorted(set(roles) - known)
    if not roles:
        return [FieldProblem("roles", "required", "needs at least one role")]
    if unknown:
        return [FieldProblem("roles", "unknown", f"names unknown roles: {', '.join(unknown)}")]
    return []


def create_user(session: Session, email: str, display_name: str, password: str) -> User:
    """A new user with an argon2id password hash; the email must not be taken (in any case)."""
    problems = validate_account(email, display_name, password)
    email = normalize_email(email)
    if not problems:
        taken = session.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
        if taken is not None:
            problems.append(FieldProblem("email", "taken", "is already registered"))
    if problems:
        raise InputRejected(problems)
    user = User(email=email, display_name=display_name.strip(), password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def grant_membership(session: Session, user: User, tenant: Tenant, roles: list[str]) -> Membership:
    """Give `user` exactly these roles in `tenant` (re-activating a membership that was ended)."""
    problems = validate_roles(roles)
    if problems:
        raise InputRejected(problems)
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant.id)
    )
    if membership is None:
        membership = Membership(user_id=user.id, tenant_id=tenant.id, roles=sorted(set(roles)))
        session.add(membership)
    else:
        membership.roles = sorted(set(roles))
        membership.active = True
    session.flush()
    return membership
