"""Master keys: the key provider that wraps and unwraps each clinic's data keys.

`KeyProvider` is the seam for a KMS: `wrap` sends a data key out to be encrypted under the current
master key and returns the wrapped bytes with that key's id; `unwrap` takes the id recorded beside a
wrapped key. `context` is authenticated but not secret (AWS KMS calls it the encryption context, Google
Cloud KMS additional authenticated data): it binds a wrapped key to its clinic and version, so a wrapped
key copied onto another clinic's row does not unwrap.

`EnvironmentKeyProvider` holds the master keys itself, from `ENSEMBLE_MASTER_KEYS`
("k2:<base64 of 32 bytes>,k1:<base64>": the first wraps, every listed one unwraps). Unset,
development keeps a random key in the data folder (like the token secret) and tests use one fixed
key; production refuses to start without the variable. Every process of a deployment (API,
workers, commands) must be given the same keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.settings import Settings, get_settings

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEV_KEY_FILE = "master_key"
DEV_KEY_ID = "dev"
TEST_KEY_ID = "test"


class KeyProvider(Protocol):
    @property
    def key_id(self) -> str:
        """The id of the master key new wraps use."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """`data_key` encrypted under the current master key (`key_id`)."""
        ...

    def unwrap(self, wrapped: bytes, key_id: str, context: bytes) -> bytes:
        """The data key; raises `UnknownMasterKey` when `key_id` is not held, `WrongMasterKey` when
        the wrapped key does not authenticate under it (another key with that id, or tampering)."""
        ...


class UnknownMasterKey(LookupError):
    """A data key is wrapped by a master key this process does not hold (removed too early?)."""


class WrongMasterKey(ValueError):
    """A wrapped data key does not open with the master key of its id: is `ENSEMBLE_MASTER_KEYS` the
    same in every process?"""


class MasterKeyConfigError(ValueError):
    """`ENSEMBLE_MASTER_KEYS` is malformed (the message never quotes key material)."""


@dataclass(frozen=True)
class EnvironmentKeyProvider:
    """Master keys held in process memory; `keys[0]` is the current one."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise MasterKeyConfigError("at least one master key is needed")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise MasterKeyConfigError("master key ids must be distinct")
        for key_id, key in self.keys:
            if not KEY_ID.match(key_id):
                raise MasterKeyConfigError("a master key id is letters, digits, '.', '_' or '-'")
            if len(key) != KEY_BYTES:
                raise MasterKeyConfigError(f"master key {key_id} must be {KEY_BYTES} bytes")

    @classmethod
    def parse(cls, spec: str) -> EnvironmentKeyProvider:
        """From "id:<base64>,id:<base64>" (the first is current)."""
        keys = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise MasterKeyConfigError("each master key is written id:<base64>")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise MasterKeyConfigError(f"master key {key_id.strip()} is not base64") from None
            keys.append((key_id.strip(), key))
        return cls(tuple(keys))

    @property
    def key_id(self) -> str:
        return self.keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.keys[0][1]).encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, key_id: str, context: bytes) -> bytes:
        for held_id, key in self.keys:
            if held_id == key_id:
                try:
                    return AESGCM(key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
                except InvalidTag:
                    raise WrongMasterKey(f"a data key does not open with master key {key_id}") from None
        raise UnknownMasterKey(f"master key {key_id} is not configured")


def new_master_key_spec(key_id: str) -> str:
    """A fresh "id:<base64>" entry for `ENSEMBLE_MASTER_KEYS`."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def key_spec_for_tests() -> str:
    """The fixed master key of test runs, as `ENSEMBLE_MASTER_KEYS` writes it (for test subprocesses)."""
    key = hashlib.sha256(b"ensemble test master key").digest()
    return f"{TEST_KEY_ID}:{base64.b64encode(key).decode()}"


def development_key_spec(data_dir: Path) -> str:
    """The development/test master key, created once in the data folder (safe against a racing process)."""
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{DEV_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(new_master_key_spec(DEV_KEY_ID))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def provider_from_settings(settings: Settings) -> EnvironmentKeyProvider:
    if settings.master_keys:
        return EnvironmentKeyProvider.parse(settings.master_keys)
    if settings.production:
        raise RuntimeError("ENSEMBLE_MASTER_KEYS must be set in production")
    if settings.environment == "test":
        # One fixed key for every test process (a worker subprocess has a data folder of its own);
        # test data only, never a real clinic's.
        return EnvironmentKeyProvider.parse(key_spec_for_tests())
    return EnvironmentKeyProvider.parse(development_key_spec(settings.data_dir))


_provider: KeyProvider | None = None


def get_key_provider() -> KeyProvider:
    """The process's key provider (from the settings on first use)."""
    global _provider
    if _provider is None:
        _provider = provider_from_settings(get_settings())
    return _provider


@contextmanager
def use_key_provider(provider: KeyProvider) -> Iterator[KeyProvider]:
    """Swap the process's key provider (a rotation step in a command, or a test), restored after."""
    global _provider
    previous, _provider = _provider, provider
    try:
        yield provider
    finally:
        _provider = previous
