"""Per-clinic data keys: versioned, wrapped by the master key, unwrapped once per process.

Envelope encryption: each clinic has data keys (`public.tenant_data_keys`, one row per version),
stored only wrapped by a master key (encryption.key_provider). A `Keyring` holds one clinic's
unwrapped versions and derives a key per purpose with HKDF, so field encryption and the audit log
never share a key. Keyrings are cached per process for `KEYRING_TTL_SECONDS`.

- Master key rotation (`rewrap_data_keys`) re-encrypts the wrapped data keys only; no data changes.
- Data key rotation (`rotate_data_key`) adds a version that new writes use once it is active; older
  versions keep decrypting. It activates after two cache lifetimes, so every process has loaded
  the new version before any process writes with it (no reader meets an unknown version).
- Crypto-shredding (`destroy_data_keys`) erases the wrapped keys; whatever ciphertext remains, in
  the database or in a backup, no longer decrypts (`KeysDestroyed`).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, func, insert, select, update

from backend.compliance.encryption.key_models import TenantDataKey
from backend.compliance.encryption.key_provider import KEY_BYTES, KeyProvider, get_key_provider
from backend.database import utcnow
from backend.tenants.models import Tenant

KEYRING_TTL_SECONDS = 300.0
ROTATION_ACTIVATION_SECONDS = 2 * KEYRING_TTL_SECONDS
# Statements reading or writing data keys carry this option; field encryption's routing skips them.
KEY_IO_OPTION = "ensemble_key_io"


class KeysDestroyed(Exception):
    """The clinic's keys were shredded: its data can no longer be decrypted."""


class NoDataKey(LookupError):
    """The clinic has no data key yet (provisioning and the field-encryption migration create it)."""


class UnknownKeyVersion(LookupError):
    """Data encrypted with a key version this keyring does not hold (destroyed, or newer than the cache)."""


@dataclass(frozen=True)
class Keyring:
    """One clinic's unwrapped data keys; `key()` derives a 32-byte key per purpose and version."""

    tenant_id: uuid.UUID
    current_version: int
    data_keys: Mapping[int, bytes] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict[tuple[str, int], bytes] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.data_keys))

    def key(self, purpose: str, version: int | None = None) -> tuple[int, bytes]:
        """(data-key version, 32-byte key for this purpose): HKDF-SHA256 of that version's data key
        with info=purpose; version None = current. Purposes in use: "fields", "audit",
        "audit-index", "audit-checkpoint"."""
        chosen = self.current_version if version is None else version
        derived = self._derived.get((purpose, chosen))
        if derived is None:
            data_key = self.data_keys.get(chosen)
            if data_key is None:
                raise UnknownKeyVersion(f"data key version {chosen} is not available")
            hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode())
            derived = self._derived[(purpose, chosen)] = hkdf.derive(data_key)
        return chosen, derived


@dataclass(frozen=True)
class _Cached:
    keyring: Keyring
    loaded_at: float


_lock = threading.Lock()
_by_tenant: dict[uuid.UUID, _Cached] = {}
_tenant_of_schema: dict[str, uuid.UUID] = {}


def _fresh(tenant_id: uuid.UUID) -> Keyring | None:
    cached = _by_tenant.get(tenant_id)
    if cached is None or time.monotonic() - cached.loaded_at > KEYRING_TTL_SECONDS:
        return None
    return cached.keyring


def load_keyring(connection: Connection, tenant_id: uuid.UUID) -> Keyring:
    """The clinic's keyring (sync; cached per process). Raises KeysDestroyed or NoDataKey (and
    key_provider's UnknownMasterKey / WrongMasterKey when the master keys are misconfigured).

    `connection` only reads `public`; from async code: `await session.run_sync(lambda s:
    load_keyring(s.connection(), tenant_id))`.
    """
    keyring = _fresh(tenant_id)
    if keyring is None:
        keyring = _read_keyring(connection, tenant_id, get_key_provider())
        with _lock:
            _by_tenant[tenant_id] = _Cached(keyring, time.monotonic())
    return keyring


def cached_keyring_for_schema(schema: str) -> Keyring | None:
    """The fresh cached keyring of the clinic in `schema`, without I/O (None: load it)."""
    tenant_id = _tenant_of_schema.get(schema)
    return _fresh(tenant_id) if tenant_id is not None else None


def load_keyring_for_schema(connection: Connection, schema: str) -> Keyring:
    """The keyring of the clinic whose schema is `schema` (one registry read when not cached)."""
    keyring = cached_keyring_for_schema(schema)
    if keyring is not None:
        return keyring
    tenant_id = connection.scalar(
        select(Tenant.id).where(Tenant.schema_name == schema).execution_options(**{KEY_IO_OPTION: True})
    )
    if tenant_id is None:
        raise NoDataKey("no clinic is registered for this schema")
    keyring = load_keyring(connection, tenant_id)
    with _lock:
        _tenant_of_schema[schema] = tenant_id
    return keyring


def forget_keyrings(tenant_id: uuid.UUID | None = None) -> None:
    """Drop cached keyrings (one clinic's, or all): the next use reads them again."""
    with _lock:
        if tenant_id is None:
            _by_tenant.clear()
            _tenant_of_schema.clear()
            return
        _by_tenant.pop(tenant_id, None)
        for schema in [s for s, t in _tenant_of_schema.items() if t == tenant_id]:
            del _tenant_of_schema[schema]


def _wrap_context(tenant_id: uuid.UUID, version: int) -> bytes:
    return b"ensemble-data-key/v1/" + tenant_id.bytes + version.to_bytes(4, "big")


def _key_rows(connection: Connection, tenant_id: uuid.UUID, *, for_update: bool = False) -> list[_Row]:
    k = TenantDataKey
    stmt = (
        select(k.version, k.wrapped_key, k.master_key_id, k.active_from)
        .where(k.tenant_id == tenant_id)
        .order_by(k.version)
        .execution_options(**{KEY_IO_OPTION: True})
    )
    if for_update:
        stmt = stmt.with_for_update()
    return [_Row(*row) for row in connection.execute(stmt)]


@dataclass(frozen=True)
class _Row:
    version: int
    wrapped_key: bytes | None
    master_key_id: str | None
    active_from: datetime


def _read_keyring(connection: Connection, tenant_id: uuid.UUID, provider: KeyProvider) -> Keyring:
    rows = _key_rows(connection, tenant_id)
    if not rows:
        raise NoDataKey("the clinic has no data key")
    live = [r for r in rows if r.wrapped_key is not None and r.master_key_id is not None]
    if not live:
        raise KeysDestroyed("the clinic's data keys were destroyed")
    data_keys = {
        r.version: provider.unwrap(r.wrapped_key, r.master_key_id, _wrap_context(tenant_id, r.version))
        for r in live
        if r.wrapped_key is not None and r.master_key_id is not None
    }
    now = utcnow()
    active = [r.version for r in live if r.active_from <= now]
    current = max(active) if active else min(data_keys)
    return Keyring(tenant_id, current, data_keys)


def _add_version(
    connection: Connection, tenant_id: uuid.UUID, version: int, activate_in: float, provider: KeyProvider
) -> None:
    data_key = _new_data_key()
    now = utcnow()
    connection.execute(
        insert(TenantDataKey)
        .values(
            tenant_id=tenant_id,
            version=version,
            wrapped_key=provider.wrap(data_key, _wrap_context(tenant_id, version)),
            master_key_id=provider.key_id,
            created_at=now,
            active_from=now + timedelta(seconds=activate_in),
        )
        .execution_options(**{KEY_IO_OPTION: True})
    )


def _new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def ensure_data_key(connection: Connection, tenant_id: uuid.UUID) -> int:
    """Create the clinic's first data key unless it has one; returns the newest version.

    Raises KeysDestroyed for a shredded clinic: it never gets keys again.
    """
    rows = _key_rows(connection, tenant_id, for_update=True)
    if rows and all(r.wrapped_key is None for r in rows):
        raise KeysDestroyed("the clinic's data keys were destroyed")
    if rows:
        return rows[-1].version
    _add_version(connection, tenant_id, 1, 0, get_key_provider())
    forget_keyrings(tenant_id)
    return 1


def rotate_data_key(
    connection: Connection, tenant_id: uuid.UUID, *, activate_in: float = ROTATION_ACTIVATION_SECONDS
) -> int:
    """Add a new data key version (new writes use it `activate_in` seconds from now); returns it.

    Older versions keep decrypting; they are marked retired. Commit the caller's transaction.
    """
    rows = _key_rows(connection, tenant_id, for_update=True)
    if not rows:
        raise NoDataKey("the clinic has no data key")
    if all(r.wrapped_key is None for r in rows):
        raise KeysDestroyed("the clinic's data keys were destroyed")
    version = rows[-1].version + 1
    connection.execute(
        update(TenantDataKey)
        .where(TenantDataKey.tenant_id == tenant_id, TenantDataKey.retired_at.is_(None))
        .values(retired_at=utcnow())
        .execution_options(**{KEY_IO_OPTION: True})
    )
    _add_version(connection, tenant_id, version, activate_in, get_key_provider())
    forget_keyrings(tenant_id)
    return version


@dataclass(frozen=True)
class RewrapReport:
    rewrapped: int
    """Data keys re-wrapped by this run."""
    by_master_key: dict[str, int]
    """Live data keys per master key id afterwards: an id absent here can be removed."""


def rewrap_data_keys(connection: Connection, provider: KeyProvider | None = None) -> RewrapReport:
    """Re-wrap every live data key not yet under the current master key (idempotent, resumable).

    The data keys themselves, and so all encrypted data, are unchanged; running processes keep
    their cached keyrings. Once the report shows no key under an old master key id, that master
    key can be removed from `ENSEMBLE_MASTER_KEYS`.
    """
    provider = provider or get_key_provider()
    k = TenantDataKey
    rows = connection.execute(
        select(k.tenant_id, k.version, k.wrapped_key, k.master_key_id)
        .where(k.wrapped_key.is_not(None), k.master_key_id != provider.key_id)
        .order_by(k.tenant_id, k.version)
        .with_for_update()
        .execution_options(**{KEY_IO_OPTION: True})
    ).all()
    now = utcnow()
    for row in rows:
        context = _wrap_context(row.tenant_id, row.version)
        data_key = provider.unwrap(row.wrapped_key, row.master_key_id, context)
        connection.execute(
            update(k)
            .where(k.tenant_id == row.tenant_id, k.version == row.version)
            .values(
                wrapped_key=provider.wrap(data_key, context), master_key_id=provider.key_id, rewrapped_at=now
            )
            .execution_options(**{KEY_IO_OPTION: True})
        )
    usage = connection.execute(
        select(k.master_key_id, func.count())
        .where(k.master_key_id.is_not(None))
        .group_by(k.master_key_id)
        .execution_options(**{KEY_IO_OPTION: True})
    ).all()
    return RewrapReport(len(rows), {str(key_id): int(count) for key_id, count in usage})


def destroy_data_keys(connection: Connection, tenant_id: uuid.UUID) -> int:
    """Crypto-shred a clinic: erase every wrapped data key (tombstones remain); returns how many."""
    result = connection.execute(
        update(TenantDataKey)
        .where(TenantDataKey.tenant_id == tenant_id, TenantDataKey.destroyed_at.is_(None))
        .values(wrapped_key=None, master_key_id=None, destroyed_at=utcnow())
        .execution_options(**{KEY_IO_OPTION: True})
    )
    forget_keyrings(tenant_id)
    return int(result.rowcount)
