"""When a sign-in needs a second factor, and the short-lived challenge that carries it to the next step.

The challenge is a JWT (typ "mfa", 5 minutes) bound to one user, one clinic and the user's token
version, signed with its own derived key: it proves the password step passed and grants nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from backend.authorization.roles import PHI_ROLES
from backend.identity.secrets_box import derive_key

CHALLENGE_SECONDS = 5 * 60
_ALGORITHM = "HS256"
_TYPE = "mfa"


def mfa_required(totp_enabled: bool, clinic_requires_mfa: bool, roles: Iterable[str]) -> bool:
    """A user who enabled TOTP always uses it; a clinic may require it of roles that see PHI."""
    return totp_enabled or (clinic_requires_mfa and any(role in PHI_ROLES for role in roles))


@dataclass(frozen=True)
class ChallengeClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_version: int
    expires_at: datetime


def _key(secret_key: str) -> bytes:
    return derive_key(secret_key, "mfa-challenge/v1")


def issue_challenge(
    secret_key: str, user_id: uuid.UUID, tenant_id: uuid.UUID, token_version: int, now: datetime | None = None
) -> tuple[str, datetime]:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(seconds=CHALLENGE_SECONDS)
    claims = {
        "sub": str(user_id),
        "tid": str(tenant_id),
        "tv": token_version,
        "typ": _TYPE,
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, _key(secret_key), algorithm=_ALGORITHM), expires


def decode_challenge(secret_key: str, token: str) -> ChallengeClaims | None:
    """The claims of a valid, unexpired challenge; None for anything else."""
    try:
        claims = jwt.decode(
            token, _key(secret_key), algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "tid", "tv"]}
        )
        if claims.get("typ") != _TYPE:
            return None
        return ChallengeClaims(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            token_version=int(claims["tv"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
