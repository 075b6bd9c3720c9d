"""Sealing a clinic's audit events into its chain, and reading the chain back to verify it.

`audit_events` is written in the same transaction as each read or write of PHI; sealing moves its
rows, in id order, into `sealed_audit_entries`: encrypted, chained and signed (audit_chain.py),
deleting the source rows in the same transaction, so every event is sealed exactly once and a
database dump holds no plaintext audit content once sealed. Sealers of one clinic take turns on a
row lock of `audit_chain_head`; each transaction seals up to `BATCH_SIZE` events and ends with a
signed checkpoint of the head, so there is a checkpoint at least every 10,000 entries and at the
end of every run, and nothing committed is left unsigned.

Events whose transactions commit out of id order are sealed in the order they become visible:
an event is never skipped because a later one was sealed first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from backend.compliance.audit.care_relationship import Pair, related_pairs
from backend.compliance.audit.chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainKeys,
    Checkpoint,
    KeyLookup,
    SealedEntry,
    seal_records,
    sign_checkpoint,
)
from backend.compliance.audit.events import AuditEvent
from backend.compliance.audit.sealed_models import AuditChainHead, AuditCheckpoint, SealedAuditEntry
from backend.compliance.audit.verification import Verification, verify_chain
from backend.compliance.encryption.keys import Keyring, NoDataKey, ensure_data_key, load_keyring
from backend.database import utcnow
from backend.tenants.routing import session_schema, tenant_engine

#: Events sealed per transaction; each transaction ends with the chain head signed.
BATCH_SIZE = 10_000
#: A checkpoint is kept for good at every multiple of this position.
CHECKPOINT_EVERY = 10_000
#: Actions that count as access for the outside-care flag (a read of a member the user does not treat).
ACCESS_ACTIONS = frozenset({"read"})
#: Resource types that are not a member's clinical information (the compliance reports' own reads).
NOT_CARE_RESOURCES = frozenset({"audit_report"})
_HEAD_ID = 1


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head_seq: int
    # True when another sealer of this clinic held the chain head and `wait` was False.
    busy: bool = False


class SealerBusy(Exception):
    """Another sealer holds this clinic's chain head (only raised when not waiting for it)."""


@lru_cache(maxsize=256)
def _chain_keys(version: int, encryption: bytes, index: bytes, signing: bytes) -> ChainKeys:
    return ChainKeys(version, encryption, index, signing)


def chain_keys(keyring: Keyring, version: int | None = None) -> ChainKeys:
    """The audit keys of one key version (default: the current one) of a clinic's keyring."""
    chosen, encryption = keyring.key("audit", version)
    _, index = keyring.key("audit-index", chosen)
    _, signing = keyring.key("audit-checkpoint", chosen)
    return _chain_keys(chosen, encryption, index, signing)


def key_lookup(keyring: Keyring) -> KeyLookup:
    return lambda version: chain_keys(keyring, version)


def clinic_keyring(connection: Connection, tenant_id: uuid.UUID) -> Keyring:
    """The clinic's keyring, creating its first data key if it has none yet (raises KeysDestroyed)."""
    try:
        return load_keyring(connection, tenant_id)
    except NoDataKey:
        ensure_data_key(connection, tenant_id)
        return load_keyring(connection, tenant_id)


def _lock_head(session: Session, wait: bool) -> tuple[int, bytes]:
    """Lock the chain head (creating it on the first run): one sealer per clinic at a time."""
    session.execute(
        pg_insert(AuditChainHead)
        .values(
            id=_HEAD_ID,
            seq=0,
            entry_hash=GENESIS_HASH,
            key_version=0,
            public_key=b"",
            signature=b"",
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[AuditChainHead.id])
    )
    head = session.execute(
        select(AuditChainHead.seq, AuditChainHead.entry_hash)
        .where(AuditChainHead.id == _HEAD_ID)
        .with_for_update(skip_locked=not wait)
    ).one_or_none()
    if head is None:
        raise SealerBusy()
    return int(head.seq), bytes(head.entry_hash)


_EVENT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.occurred_at,
    AuditEvent.tenant_id,
    AuditEvent.user_id,
    AuditEvent.roles,
    AuditEvent.action,
    AuditEvent.resource_type,
    AuditEvent.resource_id,
    AuditEvent.member_id,
    AuditEvent.client_address,
    AuditEvent.operation,
)


def _is_access(record: AuditRecord) -> bool:
    """An event that counts for the outside-care flag: a read of a member's information."""
    return (
        record.member_id is not None
        and record.action in ACCESS_ACTIONS
        and record.resource_type not in NOT_CARE_RESOURCES
    )


def _outside_care(records: Sequence[AuditRecord], session: Session, tenant_id: uuid.UUID) -> set[Pair]:
    """The (user, member) pairs of this batch's accesses that had no care relationship."""
    accesses = {(r.user_id, r.member_id) for r in records if _is_access(r) and r.member_id is not None}
    return accesses - related_pairs(session, accesses, tenant_id)


def seal_batch(
    session: Session,
    tenant_id: uuid.UUID,
    limit: int = BATCH_SIZE,
    *,
    wait: bool = True,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> int:
    """Seal up to `limit` pending events in the session's transaction (the caller commits).

    Waits for the chain head if another sealer holds it, or raises `SealerBusy` with `wait=False`.
    Keeps a checkpoint at each position that is a multiple of `checkpoint_every` and signs the new
    head.
    """
    head_seq, head_hash = _lock_head(session, wait)
    rows = session.execute(select(*_EVENT_COLUMNS).order_by(AuditEvent.id).limit(limit)).all()
    if not rows:
        return 0
    keys = chain_keys(clinic_keyring(session.connection(), tenant_id))
    records = [
        AuditRecord(
            source, at, tenant, user, tuple(roles), action, kind, resource, member, address, op, False
        )
        for source, at, tenant, user, roles, action, kind, resource, member, address, op in rows
    ]
    outside = _outside_care(records, session, tenant_id)
    if outside:
        records = [
            replace(r, outside_care=True) if _is_access(r) and (r.user_id, r.member_id) in outside else r
            for r in records
        ]
    entries = seal_records(records, head_seq, head_hash, keys)
    now = utcnow()
    _copy_entries(session, [_row(entry, now) for entry in entries])
    ids = bindparam("sealed_ids", [r.source_id for r in records], type_=ARRAY(BigInteger))
    session.execute(delete(AuditEvent).where(AuditEvent.id == any_(ids)))
    kept = [sign_checkpoint(e.seq, e.entry_hash, keys) for e in entries if e.seq % checkpoint_every == 0]
    if kept:
        session.execute(insert(AuditCheckpoint), [_checkpoint_row(c, now) for c in kept])
    head = sign_checkpoint(entries[-1].seq, entries[-1].entry_hash, keys)
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == _HEAD_ID)
        .values(
            seq=head.seq,
            entry_hash=head.head_hash,
            key_version=head.key_version,
            public_key=head.public_key,
            signature=head.signature,
            updated_at=now,
        )
    )
    return len(entries)


def _checkpoint_row(checkpoint: Checkpoint, now: datetime) -> dict[str, Any]:
    return {
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "key_version": checkpoint.key_version,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
        "created_at": now,
    }


#: COPY's binary types for the columns of `sealed_audit_entries`, in table order.
_COPY_TYPES = {
    "seq": "int8",
    "occurred_at": "timestamptz",
    "sealed_at": "timestamptz",
    "key_version": "int4",
    "ciphertext": "bytea",
    "prev_hash": "bytea",
    "entry_hash": "bytea",
    "member_index": "bytea",
    "user_index": "bytea",
    "action": "varchar",
    "resource_type": "varchar",
    "outside_care": "bool",
}


def _copy_entries(session: Session, rows: list[tuple[object, ...]]) -> None:
    """Append a batch with COPY (binary), in the session's transaction.

    The one statement here that is not a Core construct: an INSERT of 10,000 rows costs about six
    times as long (measured in tests/bench/bench_audit.py). The schema is the one the session is
    routed to (`session_schema`), quoted as an identifier; it never comes from input.
    """
    table = SealedAuditEntry.__tablename__
    if [c.key for c in SealedAuditEntry.__table__.c] != list(_COPY_TYPES):
        raise RuntimeError("sealed_audit_entries columns changed: update _COPY_TYPES")
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(session_schema(session)),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(name) for name in _COPY_TYPES),
    )
    connection = session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(list(_COPY_TYPES.values()))
        for row in rows:
            copy.write_row(row)


def _row(entry: SealedEntry, sealed_at: datetime) -> tuple[object, ...]:
    """An entry's column values in `_COPY_TYPES` order."""
    return (
        entry.seq,
        entry.occurred_at,
        sealed_at,
        entry.key_version,
        entry.ciphertext,
        entry.prev_hash,
        entry.entry_hash,
        entry.member_index,
        entry.user_index,
        entry.action,
        entry.resource_type,
        entry.outside_care,
    )


def seal_pending(
    session: Session,
    tenant_id: uuid.UUID,
    batch_size: int = BATCH_SIZE,
    *,
    wait: bool = True,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> SealResult:
    """Seal every pending event of the session's clinic, committing each batch; idempotent.

    With `wait=False`, returns `busy` at once when another sealer of the clinic is running.
    """
    sealed = 0
    while True:
        try:
            count = seal_batch(session, tenant_id, batch_size, wait=wait, checkpoint_every=checkpoint_every)
        except SealerBusy:
            session.rollback()
            return SealResult(sealed, -1, busy=True)
        session.commit()
        sealed += count
        if count < batch_size:
            break
    head = session.scalar(select(AuditChainHead.seq).where(AuditChainHead.id == _HEAD_ID))
    session.commit()
    return SealResult(sealed, int(head or 0))


def seal_clinic(
    engine: Engine,
    schema: str,
    tenant_id: uuid.UUID,
    batch_size: int = BATCH_SIZE,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> SealResult:
    """Seal one clinic's pending events (the CLI, the reports, tests): its own session and commits."""
    with Session(tenant_engine(engine, schema), expire_on_commit=False) as session:
        return seal_pending(session, tenant_id, batch_size, checkpoint_every=checkpoint_every)


def pending_count(engine: Engine, schema: str) -> int:
    """Audit events of the clinic not sealed yet."""
    with tenant_engine(engine, schema).connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditEvent)) or 0)


# -- reading the chain ------------------------------------------------------------------------


def entry_from_row(row: Any) -> SealedEntry:
    return SealedEntry(
        seq=row.seq,
        occurred_at=row.occurred_at,
        key_version=row.key_version,
        ciphertext=bytes(row.ciphertext),
        member_index=bytes(row.member_index) if row.member_index is not None else None,
        user_index=bytes(row.user_index),
        action=row.action,
        resource_type=row.resource_type,
        outside_care=row.outside_care,
        prev_hash=bytes(row.prev_hash),
        entry_hash=bytes(row.entry_hash),
    )


_ENTRY_COLUMNS = [c for c in SealedAuditEntry.__table__.c if c.key != "sealed_at"]


def _checkpoints(connection: Connection) -> list[Checkpoint]:
    """The kept checkpoints, and the signed head (the end of the chain) unless nothing is sealed."""
    kept = connection.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    checkpoints = [
        Checkpoint(r.seq, bytes(r.head_hash), r.key_version, bytes(r.public_key), bytes(r.signature))
        for r in kept
    ]
    head = connection.execute(select(AuditChainHead).where(AuditChainHead.id == _HEAD_ID)).one_or_none()
    if head is not None and (head.seq > 0 or head.signature):
        signed = Checkpoint(
            head.seq, bytes(head.entry_hash), head.key_version, bytes(head.public_key), bytes(head.signature)
        )
        checkpoints.append(signed)
    return checkpoints


def verify_clinic(engine: Engine, schema: str, tenant_id: uuid.UUID) -> Verification:
    """Verify the clinic's whole chain, its kept checkpoints and its signed head, in one consistent
    snapshot (raises KeysDestroyed)."""
    clinic = tenant_engine(engine, schema).execution_options(isolation_level="REPEATABLE READ")
    with clinic.connect() as connection, connection.begin():
        lookup = key_lookup(clinic_keyring(connection, tenant_id))
        checkpoints = _checkpoints(connection)
        # A server-side cursor, read in chunks: the chain need not fit in memory.
        rows = connection.execution_options(yield_per=5_000).execute(
            select(*_ENTRY_COLUMNS).order_by(SealedAuditEntry.seq)
        )
        try:
            return verify_chain((entry_from_row(row) for row in rows), checkpoints, lookup)
        finally:
            rows.close()
