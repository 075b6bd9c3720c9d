"""Password hashing with argon2id (OWASP's first choice), upgraded on login when the cost changes.

The hasher uses argon2-cffi's defaults (RFC 9106 low-memory profile). Verification never raises
on a wrong password or a malformed stored hash: callers only learn yes or no.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = _HASHER) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str, password: str, hasher: PasswordHasher = _HASHER) -> bool:
    """Whether `password` matches; False also for a hash that cannot be parsed."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, hasher: PasswordHasher = _HASHER) -> bool:
    """Whether the stored hash was made with other parameters than the current ones."""
    try:
        return hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(24))


def verify_against_nothing(password: str) -> None:
    """Spend the time of one verification for an unknown account, so timing does not reveal it."""
    verify_password(_dummy_hash(), password)
