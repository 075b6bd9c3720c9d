"""argon2id hashing: verification, malformed hashes, and detecting hashes that need upgrading."""

from __future__ import annotations

from argon2 import PasswordHasher

from backend.identity.passwords import hash_password, needs_rehash, verify_password

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_hash_is_argon2id_and_verifies_only_the_same_password() -> None:
    """The stored form names argon2id, never contains the password, and checks only that password."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")


def test_malformed_stored_hash_is_a_mismatch_not_an_error() -> None:
    """A damaged or foreign hash answers False instead of raising."""
    assert not verify_password("not-a-hash", "anything at all")
    assert not verify_password("$2b$12$abcdefghijklmnopqrstuu", "anything at all")


def test_hash_with_other_parameters_needs_rehash() -> None:
    """A hash made with weaker parameters is flagged; one made with the current ones is not."""
    assert needs_rehash(FAST.hash("a long enough password"))
    assert not needs_rehash(hash_password("a long enough password"))
    assert needs_rehash("not-a-hash")


def test_each_hash_is_salted() -> None:
    """Two hashes of one password differ (a fresh salt each time) and both verify."""
    first, second = FAST.hash("same password here"), FAST.hash("same password here")
    assert first != second
    assert verify_password(first, "same password here", FAST)
    assert verify_password(second, "same password here", FAST)
