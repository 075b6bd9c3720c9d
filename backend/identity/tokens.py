"""Access tokens (short-lived JWTs bound to one clinic membership) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_version: int
    expires_at: datetime


def issue_access_token(
    secret: str,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    token_version: int,
    ttl_seconds: int,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": str(user_id),
        "tid": str(tenant_id),
        "tv": token_version,
        "typ": "access",
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def decode_access_token(secret: str, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "tid"]})
        if claims.get("typ") != "access":
            return None
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            token_version=int(claims.get("tv", 0)),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Only the SHA-256 is stored: a leaked table does not yield usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
