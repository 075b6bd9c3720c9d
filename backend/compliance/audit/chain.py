"""The sealed audit chain, pure: encrypting an event into an entry, chaining entry hashes, signing
checkpoints of the chain head. Keys come in as bytes; nothing here does I/O.

An entry is the event's fields as JSON, encrypted with AES-GCM (key purpose "audit", the sequence
number as associated data, so a ciphertext moved to another position no longer opens), plus a few
cleartext columns the reports filter on. Its hash covers the position, the previous entry's hash,
every cleartext column and the ciphertext, so editing, removing, adding or moving an entry breaks
the chain; a checkpoint is an Ed25519 signature over (position, head hash) with a key derived from
the clinic's "audit-checkpoint" key, so the chain cannot be rebuilt by someone holding only the
database. Verification lives in `backend.compliance.audit.verification`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: prev_hash of the first entry of every clinic's chain.
GENESIS_HASH = hashlib.sha256(b"ensemble.audit.genesis.v1").digest()
#: Bytes kept of a blind index (HMAC-SHA256): ample against collisions within one clinic.
INDEX_BYTES = 16
NONCE_BYTES = 12
_ENTRY_DOMAIN = b"ensemble.audit.entry.v1\x00"
_CHECKPOINT_DOMAIN = b"ensemble.audit.checkpoint.v1\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EntryUnreadable(ValueError):
    """The ciphertext does not open at this position with this key (edited, moved or forged)."""


class ChainKeys:
    """One key version's three keys (encryption, blind index, checkpoint signing), ready to use."""

    __slots__ = ("_aead", "_index", "_public", "_signing", "public_key", "version")

    def __init__(self, version: int, encryption: bytes, index: bytes, signing_seed: bytes) -> None:
        if len(encryption) != 32 or len(index) != 32 or len(signing_seed) != 32:
            raise ValueError("audit keys must be 32 bytes")
        self.version = version
        self._aead = AESGCM(encryption)
        self._index = index
        self._signing = Ed25519PrivateKey.from_private_bytes(signing_seed)
        self._public = self._signing.public_key()
        self.public_key = self._public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def seal(self, seq: int, plaintext: bytes, nonce: bytes | None = None) -> bytes:
        nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data(seq))

    def open(self, seq: int, ciphertext: bytes) -> bytes:
        try:
            return self._aead.decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], associated_data(seq)
            )
        except (InvalidTag, ValueError):
            raise EntryUnreadable("entry does not open at this position") from None

    def blind_index(self, kind: str, value: uuid.UUID) -> bytes:
        """HMAC of an id (kind "member" or "user"): equal ids match, the id itself is not stored."""
        return hmac.digest(self._index, kind.encode() + b"\x00" + value.bytes, "sha256")[:INDEX_BYTES]

    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message)

    def signed(self, signature: bytes, message: bytes) -> bool:
        """Whether `signature` over `message` was made with this version's checkpoint key."""
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


#: Keys by version (verification opens entries sealed under earlier versions).
KeyLookup = Callable[[int], ChainKeys]


@dataclass(frozen=True)
class AuditRecord:
    """What an audit event says, as sealed into an entry (the encrypted part)."""

    source_id: int
    occurred_at: datetime
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    roles: tuple[str, ...]
    action: str
    resource_type: str
    resource_id: str | None
    member_id: uuid.UUID | None
    client_address: str | None
    operation: str | None
    # Computed when sealed: a read of a member's information by a user with no care relationship.
    outside_care: bool


@dataclass(frozen=True)
class SealedEntry:
    """One row of the sealed table."""

    seq: int
    occurred_at: datetime
    key_version: int
    ciphertext: bytes
    member_index: bytes | None
    user_index: bytes
    action: str
    resource_type: str
    outside_care: bool
    prev_hash: bytes
    entry_hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: bytes
    key_version: int
    public_key: bytes
    signature: bytes


def associated_data(seq: int) -> bytes:
    return b"ensemble.audit.seq\x00" + seq.to_bytes(8, "big")


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: the exact, zone-free form of a timestamp that is hashed."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def encode_record(record: AuditRecord, seq: int) -> bytes:
    body = {
        "seq": seq,
        "src": record.source_id,
        "at": micros(record.occurred_at),
        "tenant": str(record.tenant_id),
        "user": str(record.user_id),
        "roles": list(record.roles),
        "action": record.action,
        "type": record.resource_type,
        "rid": record.resource_id,
        "member": str(record.member_id) if record.member_id is not None else None,
        "addr": record.client_address,
        "op": record.operation,
        "outside": record.outside_care,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode_record(plaintext: bytes) -> tuple[int, AuditRecord]:
    """(the position the record was sealed at, the record)."""
    body = json.loads(plaintext)
    member = body["member"]
    record = AuditRecord(
        source_id=int(body["src"]),
        occurred_at=from_micros(int(body["at"])),
        tenant_id=uuid.UUID(body["tenant"]),
        user_id=uuid.UUID(body["user"]),
        roles=tuple(body["roles"]),
        action=body["action"],
        resource_type=body["type"],
        resource_id=body["rid"],
        member_id=uuid.UUID(member) if member is not None else None,
        client_address=body["addr"],
        operation=body["op"],
        outside_care=bool(body["outside"]),
    )
    return int(body["seq"]), record


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def compute_entry_hash(
    seq: int,
    prev_hash: bytes,
    occurred_at: datetime,
    key_version: int,
    action: str,
    resource_type: str,
    member_index: bytes | None,
    user_index: bytes,
    outside_care: bool,
    ciphertext: bytes,
) -> bytes:
    """SHA-256 over the position, the previous hash and every stored column (length-prefixed)."""
    digest = hashlib.sha256(_ENTRY_DOMAIN)
    digest.update(seq.to_bytes(8, "big"))
    digest.update(_field(prev_hash))
    digest.update(micros(occurred_at).to_bytes(8, "big", signed=True))
    digest.update(key_version.to_bytes(4, "big"))
    digest.update(_field(action.encode()))
    digest.update(_field(resource_type.encode()))
    digest.update(b"\x00" if member_index is None else b"\x01" + _field(member_index))
    digest.update(_field(user_index))
    digest.update(b"\x01" if outside_care else b"\x00")
    digest.update(_field(ciphertext))
    return digest.digest()


def hash_at(entry: SealedEntry, seq: int) -> bytes:
    """The hash `entry` would have if it had been sealed at position `seq`."""
    return compute_entry_hash(
        seq,
        entry.prev_hash,
        entry.occurred_at,
        entry.key_version,
        entry.action,
        entry.resource_type,
        entry.member_index,
        entry.user_index,
        entry.outside_care,
        entry.ciphertext,
    )


def seal_record(record: AuditRecord, seq: int, prev_hash: bytes, keys: ChainKeys) -> SealedEntry:
    """The entry at position `seq` following an entry whose hash is `prev_hash`."""
    ciphertext = keys.seal(seq, encode_record(record, seq))
    member_index = keys.blind_index("member", record.member_id) if record.member_id is not None else None
    user_index = keys.blind_index("user", record.user_id)
    entry_hash = compute_entry_hash(
        seq,
        prev_hash,
        record.occurred_at,
        keys.version,
        record.action,
        record.resource_type,
        member_index,
        user_index,
        record.outside_care,
        ciphertext,
    )
    return SealedEntry(
        seq=seq,
        occurred_at=record.occurred_at,
        key_version=keys.version,
        ciphertext=ciphertext,
        member_index=member_index,
        user_index=user_index,
        action=record.action,
        resource_type=record.resource_type,
        outside_care=record.outside_care,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
    )


def seal_records(
    records: list[AuditRecord], head_seq: int, head_hash: bytes, keys: ChainKeys
) -> list[SealedEntry]:
    """Chain `records` after the head (position `head_seq`, hash `head_hash`), in order."""
    entries: list[SealedEntry] = []
    seq, prev = head_seq, head_hash
    for record in records:
        seq += 1
        entry = seal_record(record, seq, prev, keys)
        entries.append(entry)
        prev = entry.entry_hash
    return entries


def open_entry(entry: SealedEntry, keys: KeyLookup, seq: int | None = None) -> AuditRecord:
    """The record sealed in `entry` (at `seq`, by default its stored position).

    Raises `EntryUnreadable` unless the ciphertext opens there and the cleartext columns agree
    with the sealed record, so an edited filter column is caught even with a recomputed hash.
    """
    position = entry.seq if seq is None else seq
    key = keys(entry.key_version)
    sealed_at, record = decode_record(key.open(position, entry.ciphertext))
    member_index = key.blind_index("member", record.member_id) if record.member_id is not None else None
    if (
        sealed_at != position
        or micros(record.occurred_at) != micros(entry.occurred_at)
        or record.action != entry.action
        or record.resource_type != entry.resource_type
        or record.outside_care != entry.outside_care
        or member_index != entry.member_index
        or key.blind_index("user", record.user_id) != entry.user_index
    ):
        raise EntryUnreadable("cleartext columns disagree with the sealed record")
    return record


def checkpoint_message(seq: int, head_hash: bytes) -> bytes:
    return _CHECKPOINT_DOMAIN + seq.to_bytes(8, "big") + head_hash


def sign_checkpoint(seq: int, head_hash: bytes, keys: ChainKeys) -> Checkpoint:
    signature = keys.sign(checkpoint_message(seq, head_hash))
    return Checkpoint(seq, head_hash, keys.version, keys.public_key, signature)


def checkpoint_valid(checkpoint: Checkpoint, keys: KeyLookup) -> bool:
    """Signed by this clinic's checkpoint key: the stored public key must be the one derived from the
    clinic's keys (a forger can replace both signature and public key, not the key derivation)."""
    try:
        key = keys(checkpoint.key_version)
    except LookupError:
        return False
    if not hmac.compare_digest(checkpoint.public_key, key.public_key):
        return False
    return key.signed(checkpoint.signature, checkpoint_message(checkpoint.seq, checkpoint.head_hash))
