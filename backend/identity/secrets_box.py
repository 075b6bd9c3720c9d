"""Keys derived from the platform secret, and AES-GCM encryption of small secrets at rest (TOTP).

Each purpose gets its own key (HKDF-SHA256 with a purpose label), so a key used to sign one kind
of token can never decrypt or sign another.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from the platform secret."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ensemble/" + purpose.encode())
    return hkdf.derive(secret_key.encode())


class SecretBoxError(ValueError):
    """The sealed value was altered, sealed for another context, or sealed with another key."""


class SecretBox:
    """Seal and open small secrets; `context` (e.g. the owner's id) must match to open."""

    def __init__(self, secret_key: str, purpose: str = "totp-secrets/v1") -> None:
        self._aead = AESGCM(derive_key(secret_key, purpose))

    def encrypt(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, sealed: bytes, context: bytes = b"") -> bytes:
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise SecretBoxError("not a sealed value of this version")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context)
        except InvalidTag:
            raise SecretBoxError("sealed value could not be opened") from None
