"""Column encryption at rest: note text, risk assessments, member identifiers and clients' contact
details (AES-256-GCM).

A value is stored as `bytea`: format byte (1) | data-key version (4 bytes) | nonce (12) | ciphertext
and tag. The associated data is the 5-byte header plus the column's name ("member_sections.content"),
so a ciphertext moved to another column, or given another key version, does not decrypt.

Which key: SQLAlchemy gives a type's bind and result processors no connection, so a listener on
every `Engine` (`before_execute`) puts the keyring of the statement's clinic, found from the
connection's `schema_translate_map`, into a context variable before any parameter is processed.
The processors only read it: they never do I/O. A keyring not yet cached is read once (it is in
`public`) on the statement's own connection, so every session that reaches a clinic schema (the
request session, `tenant_session`, the worker's) is covered without code of its own; after
`KEYRING_TTL_SECONDS` the next statement re-reads it (rotations are picked up). In async sessions
the listener and the processors run in SQLAlchemy's greenlet, which shares the task's context
(tests/compliance/test_field_encryption.py proves the request path).

Fail closed: with no keyring (a statement not routed to a clinic, a clinic without keys, shredded
keys) writing or reading an encrypted column raises; plaintext is never written. Encrypted columns
cannot be compared, ordered or searched in SQL (a `TypeError` when the statement is built).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, LargeBinary, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.types import TypeDecorator

from backend.compliance.encryption.keys import (
    KEY_IO_OPTION,
    Keyring,
    KeysDestroyed,
    NoDataKey,
    load_keyring_for_schema,
)

FORMAT = 1
PURPOSE = "fields"
_HEADER = struct.Struct(">BI")
NONCE_BYTES = 12


class FieldKeyUnavailable(RuntimeError):
    """No keyring for this statement: an encrypted column was written or read outside a clinic."""


class FieldDecryptionFailed(ValueError):
    """A stored value did not authenticate (wrong clinic, wrong column, tampered or unknown format)."""


@lru_cache(maxsize=4096)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def _associated_data(header: bytes, column: str) -> bytes:
    return header + column.encode()


def encrypt_field(keyring: Keyring, column: str, plaintext: bytes) -> bytes:
    """`plaintext` sealed for `column` ("table.column") under the keyring's current version."""
    version, key = keyring.key(PURPOSE)
    header = _HEADER.pack(FORMAT, version)
    nonce = _random_nonce()
    return header + nonce + _aead(key).encrypt(nonce, plaintext, _associated_data(header, column))


def decrypt_field(keyring: Keyring, column: str, stored: bytes) -> bytes:
    if len(stored) < _HEADER.size + NONCE_BYTES + 16:
        raise FieldDecryptionFailed("stored value is too short")
    header = bytes(stored[: _HEADER.size])
    form, version = _HEADER.unpack(header)
    if form != FORMAT:
        raise FieldDecryptionFailed("unknown ciphertext format")
    _, key = keyring.key(PURPOSE, version)
    nonce = bytes(stored[_HEADER.size : _HEADER.size + NONCE_BYTES])
    try:
        return _aead(key).decrypt(
            nonce, bytes(stored[_HEADER.size + NONCE_BYTES :]), _associated_data(header, column)
        )
    except InvalidTag:
        raise FieldDecryptionFailed("stored value does not authenticate for this clinic and column") from None


def key_version_of(stored: bytes) -> int:
    """The data-key version a stored value was sealed with (for re-encryption passes)."""
    return int(_HEADER.unpack(bytes(stored[: _HEADER.size]))[1])


def _random_nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


# --- which keyring: set per statement, read by the processors ---------------------------------


@dataclass(frozen=True)
class _Unavailable:
    error: Callable[[], Exception]


_active: ContextVar[Keyring | _Unavailable | None] = ContextVar("ensemble_field_keyring", default=None)


def _statement_schema(execution_options: Any) -> str | None:
    translate = execution_options.get("schema_translate_map")
    schema = translate.get(None) if translate else None
    return str(schema) if schema else None


@event.listens_for(Engine, "before_execute")
def _bind_keyring(
    conn: Connection, clauseelement: Any, multiparams: Any, params: Any, execution_options: Any
) -> None:
    if execution_options.get(KEY_IO_OPTION) or isinstance(clauseelement, ExecutableDDLElement):
        return
    schema = _statement_schema(execution_options)
    if schema is None:
        _active.set(None)
        return
    try:
        _active.set(load_keyring_for_schema(conn, schema))
    except KeysDestroyed:
        _active.set(_Unavailable(lambda: KeysDestroyed("the clinic's data keys were destroyed")))
    except NoDataKey:
        _active.set(_Unavailable(lambda: FieldKeyUnavailable("the clinic has no data key")))


def _current_keyring() -> Keyring:
    state = _active.get()
    if isinstance(state, Keyring):
        return state
    if isinstance(state, _Unavailable):
        raise state.error()
    raise FieldKeyUnavailable("encrypted columns are only read or written in a clinic's session")


# --- column types --------------------------------------------------------------------------------


class _NotSearchable(TypeDecorator.Comparator[Any]):
    """Ciphertext has no order and a fresh nonce per write: only NULL tests make sense in SQL."""

    __slots__ = ()

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        null_test = op in (operators.is_, operators.is_not) or (
            op in (operators.eq, operators.ne) and other and other[0] is None
        )
        if not null_test:
            raise TypeError("an encrypted column cannot be compared, ordered or searched in SQL")
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError("an encrypted column cannot be compared, ordered or searched in SQL")


class _Encrypted(TypeDecorator[Any]):
    impl = LargeBinary
    cache_ok = True
    comparator_factory = _NotSearchable  # replaces the impl's operators (and their SQL functions)

    def __init__(self, column: str) -> None:
        """`column`: "table.column", bound into every ciphertext as associated data."""
        super().__init__()
        self.column = column

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, plaintext: bytes) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return encrypt_field(_current_keyring(), self.column, self.encode(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.decode(decrypt_field(_current_keyring(), self.column, value))

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        raise TypeError("an encrypted value is never rendered into SQL text")


class EncryptedText(_Encrypted):
    """A `str` column stored encrypted."""

    cache_ok = True  # SQLAlchemy reads it from each class itself

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise TypeError("EncryptedText stores str")
        return value.encode()

    def decode(self, plaintext: bytes) -> str:
        return plaintext.decode()


class EncryptedJSON(_Encrypted):
    """A JSON document (dict or list) stored encrypted; read back as `json.loads` gives it."""

    cache_ok = True

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, plaintext: bytes) -> Any:
        return json.loads(plaintext)


def encrypted_columns(metadata: MetaData) -> list[tuple[str, str, _Encrypted]]:
    """(table, column, type) of every encrypted column, in a stable order."""
    found = [
        (table.name, column.name, column.type)
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, _Encrypted)
    ]
    return sorted(found, key=lambda item: (item[0], item[1]))
