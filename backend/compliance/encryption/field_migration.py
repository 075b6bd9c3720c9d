"""Rewriting stored values of encrypted columns in one clinic schema: encrypting existing plaintext
(the field-encryption migration), decrypting it back (its downgrade) and re-encrypting under the
current data key version (after a data key rotation).

Rows are read and written in keyset batches with Core `table()` constructs on the caller's
connection and transaction, whose search_path names the clinic's schema (as in migrations), so a
failure leaves the clinic as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Connection, Engine, LargeBinary, bindparam, column, func, select, table, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.types import TypeEngine

from backend.compliance.encryption.field_crypto import decrypt_field, encrypt_field, key_version_of
from backend.compliance.encryption.keys import Keyring, ensure_data_key, forget_keyrings, load_keyring
from backend.tenants.migrations import route_to_schema
from backend.tenants.models import Tenant

BATCH = 1000


@dataclass(frozen=True)
class StoredColumn:
    """An encrypted column as stored: its table, primary key columns and whether it holds JSON."""

    table: str
    primary_key: tuple[str, ...]
    column: str
    json: bool

    @property
    def context(self) -> str:
        return f"{self.table}.{self.column}"

    def clause(self) -> tuple[TableClause, list[ColumnClause[object]], ColumnClause[bytes]]:
        keys: list[ColumnClause[object]] = [column(name) for name in self.primary_key]
        value: ColumnClause[bytes] = column(self.column, LargeBinary)
        return table(self.table, *keys, value), keys, value


def _rows(connection: Connection, stored: StoredColumn) -> Iterator[list[tuple[tuple[object, ...], bytes]]]:
    """Batches of (primary key, stored bytes) of non-null values, in primary-key order."""
    _, keys, value = stored.clause()
    last: tuple[object, ...] | None = None
    while True:
        stmt = select(*keys, value).where(value.is_not(None)).order_by(*keys).limit(BATCH)
        if last is not None:
            stmt = stmt.where(tuple_(*keys) > tuple_(*last))
        batch = [(tuple(row[:-1]), bytes(row[-1])) for row in connection.execute(stmt)]  # type: ignore[arg-type]
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _write(
    connection: Connection,
    stored: StoredColumn,
    values: list[tuple[tuple[object, ...], bytes]],
    expected: list[bytes] | None = None,
) -> int:
    """Write new stored bytes by primary key; with `expected`, only where the row still holds those
    bytes (a value the application changed meanwhile is left alone). Returns rows written."""
    t, keys, value = stored.clause()
    conditions = [key == bindparam(f"k_{key.name}") for key in keys]
    if expected is not None:
        conditions.append(value == bindparam("v_expected", type_=LargeBinary))
    stmt = update(t).where(*conditions).values({stored.column: bindparam("v_value", type_=LargeBinary)})
    names = [f"k_{name}" for name in stored.primary_key]
    params = [{**dict(zip(names, pk, strict=True)), "v_value": v} for pk, v in values]
    if expected is not None:
        for param, old in zip(params, expected, strict=True):
            param["v_expected"] = old
    return int(connection.execute(stmt, params).rowcount)


def _canonical(stored: StoredColumn, plaintext: bytes) -> bytes:
    """The bytes EncryptedJSON/EncryptedText would have sealed for this value."""
    if stored.json:
        return json.dumps(json.loads(plaintext), separators=(",", ":"), ensure_ascii=False).encode()
    return plaintext


def clinic_keyring(connection: Connection, schema: str, *, create: bool) -> Keyring | None:
    """The keyring of the clinic in `schema` (its first data key made if `create`); None if unregistered."""
    tenant_id = connection.scalar(select(Tenant.id).where(Tenant.schema_name == schema))
    if tenant_id is None:
        return None
    if create:
        ensure_data_key(connection, tenant_id)
    forget_keyrings(tenant_id)
    return load_keyring(connection, tenant_id)


def has_values(connection: Connection, columns: Sequence[StoredColumn]) -> bool:
    for stored in columns:
        t, _, value = stored.clause()
        if connection.scalar(select(func.count()).select_from(t).where(value.is_not(None))):
            return True
    return False


def encrypt_plaintext(connection: Connection, keyring: Keyring, stored: StoredColumn) -> int:
    """Seal every value of a column holding plaintext bytes (UTF-8 text or JSON); returns how many."""
    count = 0
    for batch in _rows(connection, stored):
        sealed = [(pk, encrypt_field(keyring, stored.context, _canonical(stored, v))) for pk, v in batch]
        _write(connection, stored, sealed)
        count += len(sealed)
    return count


def decrypt_to_plaintext(connection: Connection, keyring: Keyring, stored: StoredColumn) -> int:
    """Replace every sealed value with its plaintext bytes (the downgrade); returns how many."""
    count = 0
    for batch in _rows(connection, stored):
        _write(connection, stored, [(pk, decrypt_field(keyring, stored.context, v)) for pk, v in batch])
        count += len(batch)
    return count


def model_columns() -> list[StoredColumn]:
    """Every encrypted column of the tenant models (backend.tables), as stored."""
    from backend.compliance.encryption.field_crypto import EncryptedJSON, encrypted_columns
    from backend.tables import TenantBase

    found = []
    for table_name, column_name, kind in encrypted_columns(TenantBase.metadata):
        keys = tuple(c.name for c in TenantBase.metadata.tables[table_name].primary_key.columns)
        found.append(StoredColumn(table_name, keys, column_name, isinstance(kind, EncryptedJSON)))
    return found


def reencrypt(connection: Connection, keyring: Keyring, stored: StoredColumn) -> int:
    """Re-seal values written under older data key versions with the current one; returns how many."""
    current = keyring.current_version
    count = 0
    for batch in _rows(connection, stored):
        stale = [(pk, v) for pk, v in batch if key_version_of(v) != current]
        if stale:
            resealed = [
                (pk, encrypt_field(keyring, stored.context, decrypt_field(keyring, stored.context, v)))
                for pk, v in stale
            ]
            count += _write(connection, stored, resealed, expected=[v for _, v in stale])
    return count


def reencrypt_clinic(engine: Engine, tenant_id: uuid.UUID, schema: str) -> tuple[int, int]:
    """Re-seal a clinic's values under its current data key version, a transaction per column.

    Runs beside live traffic: each value is replaced only if unchanged since it was read.
    Returns (the version used, values re-sealed).
    """
    total = 0
    version = 0
    for stored in model_columns():
        with engine.begin() as connection:
            route_to_schema(connection, schema)  # `table()` clauses resolve through search_path
            keyring = load_keyring(connection, tenant_id)
            version = keyring.current_version
            total += reencrypt(connection, keyring, stored)
    return version, total


@dataclass(frozen=True)
class PlainColumn:
    """A column an encryption revision converts: as stored after it, and its type before."""

    stored: StoredColumn
    before: TypeEngine[Any]
    nullable: bool = False


def seal_columns(op: Operations, columns: Sequence[PlainColumn]) -> None:
    """An encryption revision's upgrade in the clinic's schema: each column becomes `bytea` holding
    its values' UTF-8 bytes, then sealed with the clinic's data key (made if it has none). A schema
    with no registered clinic may only be converted while the columns are empty."""
    for plain in columns:
        op.alter_column(
            plain.stored.table,
            plain.stored.column,
            existing_type=plain.before,
            type_=LargeBinary(),
            existing_nullable=plain.nullable,
            postgresql_using=f"convert_to(\"{plain.stored.column}\"::text, 'UTF8')",
        )
    connection = op.get_bind()
    stored = [plain.stored for plain in columns]
    keyring = clinic_keyring(connection, _current_schema(connection), create=True)
    if keyring is None:
        if has_values(connection, stored):
            raise RuntimeError("a schema with no registered clinic holds values to encrypt")
        return
    for one in stored:
        encrypt_plaintext(connection, keyring, one)


def unseal_columns(op: Operations, columns: Sequence[PlainColumn]) -> None:
    """Its downgrade: the plaintext back, in the columns' earlier types."""
    connection = op.get_bind()
    stored = [plain.stored for plain in columns]
    keyring = clinic_keyring(connection, _current_schema(connection), create=False)
    if keyring is not None:
        for one in stored:
            decrypt_to_plaintext(connection, keyring, one)
    elif has_values(connection, stored):
        raise RuntimeError("a schema with no registered clinic holds values to decrypt")
    for plain in columns:
        cast = "::jsonb" if isinstance(plain.before, JSONB) else ""
        op.alter_column(
            plain.stored.table,
            plain.stored.column,
            existing_type=LargeBinary(),
            type_=plain.before,
            existing_nullable=plain.nullable,
            postgresql_using=f"convert_from(\"{plain.stored.column}\", 'UTF8'){cast}",
        )


def _current_schema(connection: Connection) -> str:
    return str(connection.scalar(select(func.current_schema())))
