"""AES-GCM sealing of TOTP secrets: round trip, and refusal of anything altered or misplaced."""

from __future__ import annotations

import pytest

from backend.identity.secrets_box import SecretBox, SecretBoxError, derive_key

KEY = "platform-secret-for-tests-0123456789"


def test_sealed_secret_opens_with_the_same_key_and_context() -> None:
    """What is sealed for a context opens for it, and the ciphertext does not contain the plaintext."""
    box = SecretBox(KEY)
    sealed = box.encrypt(b"JBSWY3DPEHPK3PXP", b"user-1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert box.decrypt(sealed, b"user-1") == b"JBSWY3DPEHPK3PXP"


def test_each_sealing_uses_a_fresh_nonce() -> None:
    """Sealing the same secret twice gives different bytes."""
    box = SecretBox(KEY)
    assert box.encrypt(b"same", b"ctx") != box.encrypt(b"same", b"ctx")


@pytest.mark.parametrize("case", ["other context", "other key", "tampered", "truncated"])
def test_altered_or_misplaced_values_do_not_open(case: str) -> None:
    """A value moved to another user, sealed with another key, flipped or cut is refused."""
    box = SecretBox(KEY)
    sealed = box.encrypt(b"JBSWY3DPEHPK3PXP", b"user-1")
    with pytest.raises(SecretBoxError):
        if case == "other context":
            box.decrypt(sealed, b"user-2")
        elif case == "other key":
            SecretBox(KEY + "x").decrypt(sealed, b"user-1")
        elif case == "tampered":
            box.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"user-1")
        else:
            box.decrypt(sealed[:10], b"user-1")


def test_keys_differ_per_purpose() -> None:
    """Keys derived for two purposes from one secret are unrelated; the same purpose repeats."""
    assert derive_key(KEY, "a") != derive_key(KEY, "b")
    assert derive_key(KEY, "a") == derive_key(KEY, "a")
    assert len(derive_key(KEY, "a")) == 32
