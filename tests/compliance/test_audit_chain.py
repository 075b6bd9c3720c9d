"""The sealed audit chain, pure: sealing, opening, and verification naming the first tampered position."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.compliance.audit.chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainKeys,
    Checkpoint,
    EntryUnreadable,
    SealedEntry,
    hash_at,
    open_entry,
    seal_records,
    sign_checkpoint,
)
from backend.compliance.audit.verification import ProblemKind, Verification, verify_chain

KEYS = ChainKeys(1, b"e" * 32, b"i" * 32, b"s" * 32)
OTHER_CLINIC = ChainKeys(1, b"E" * 32, b"I" * 32, b"S" * 32)
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MEMBER = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def lookup(version: int) -> ChainKeys:
    if version != 1:
        raise LookupError(version)
    return KEYS


def record(n: int, member: uuid.UUID | None = MEMBER) -> AuditRecord:
    return AuditRecord(
        source_id=n,
        occurred_at=START + timedelta(seconds=n, microseconds=7),
        tenant_id=uuid.UUID(int=1),
        user_id=uuid.UUID(int=100 + n % 3),
        roles=("clinician",),
        action="read",
        resource_type="client",
        resource_id=str(n),
        member_id=member,
        client_address="10.0.0.1",
        operation="ClientRecord",
        outside_care=n % 5 == 0,
    )


def chain(count: int, checkpoint_every: int = 4) -> tuple[list[SealedEntry], list[Checkpoint]]:
    """`count` entries sealed in runs of `checkpoint_every`, each run ending with a checkpoint."""
    entries: list[SealedEntry] = []
    checkpoints: list[Checkpoint] = []
    head_seq, head_hash = 0, GENESIS_HASH
    for start in range(1, count + 1, checkpoint_every):
        batch = [record(n) for n in range(start, min(start + checkpoint_every, count + 1))]
        sealed = seal_records(batch, head_seq, head_hash, KEYS)
        entries += sealed
        head_seq, head_hash = sealed[-1].seq, sealed[-1].entry_hash
        checkpoints.append(sign_checkpoint(head_seq, head_hash, KEYS))
    return entries, checkpoints


def verify(entries: list[SealedEntry], checkpoints: list[Checkpoint]) -> Verification:
    return verify_chain(sorted(entries, key=lambda e: e.seq), checkpoints, lookup)


def test_an_untouched_chain_verifies_and_every_entry_opens_to_its_event() -> None:
    """Twelve sealed events verify; each entry decrypts to the event it sealed, at its position."""
    entries, checkpoints = chain(12)
    result = verify(entries, checkpoints)
    assert result.ok and result.entries_checked == 12 and result.head_seq == 12
    assert [open_entry(e, lookup) for e in entries] == [record(n) for n in range(1, 13)]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))


def test_the_stored_columns_hold_no_member_or_user_id_in_clear() -> None:
    """The ciphertext and blind indexes do not contain the member's or the user's id bytes."""
    entry = chain(1)[0][0]
    stored = entry.ciphertext + (entry.member_index or b"") + entry.user_index
    assert MEMBER.bytes not in stored and str(MEMBER).encode() not in stored
    assert uuid.UUID(int=101).bytes not in stored
    assert entry.member_index == KEYS.blind_index("member", MEMBER)
    assert entry.member_index != OTHER_CLINIC.blind_index("member", MEMBER)


def test_a_ciphertext_moved_to_another_position_does_not_open() -> None:
    """The position is AES-GCM associated data: entry 2's ciphertext fails at position 3."""
    entries, _ = chain(3)
    moved = dataclasses.replace(entries[2], ciphertext=entries[1].ciphertext)
    with pytest.raises(EntryUnreadable):
        open_entry(moved, lookup)


def test_an_edited_ciphertext_is_reported_as_edited_at_its_position() -> None:
    """One flipped byte in entry 6 of 12: edited at 6."""
    entries, checkpoints = chain(12)
    flipped = bytes([entries[5].ciphertext[20] ^ 1])
    entries[5] = dataclasses.replace(
        entries[5], ciphertext=entries[5].ciphertext[:20] + flipped + entries[5].ciphertext[21:]
    )
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (6, ProblemKind.EDITED)


def test_an_edited_hash_is_reported_as_edited_at_its_position() -> None:
    """A rewritten entry hash at 7: edited at 7."""
    entries, checkpoints = chain(12)
    entries[6] = dataclasses.replace(entries[6], entry_hash=bytes(32))
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (7, ProblemKind.EDITED)


def test_a_flag_edited_with_every_hash_recomputed_is_still_caught_at_its_position() -> None:
    """Clearing the outside-care flag of entry 5 and rebuilding the chain from there: edited at 5."""
    entries, checkpoints = chain(12)
    prev = entries[3].entry_hash
    assert entries[4].outside_care
    for i in range(4, 12):
        edited = dataclasses.replace(
            entries[i], prev_hash=prev, outside_care=entries[i].outside_care and i != 4
        )
        edited = dataclasses.replace(edited, entry_hash=hash_at(edited, edited.seq))
        entries[i], prev = edited, edited.entry_hash
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (5, ProblemKind.EDITED)


def test_a_deleted_entry_is_reported_as_deleted_at_its_position() -> None:
    """Entry 4 removed: deleted at 4."""
    entries, checkpoints = chain(12)
    del entries[3]
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (4, ProblemKind.DELETED)


def test_a_deleted_entry_with_the_rest_renumbered_is_still_deleted_at_its_position() -> None:
    """Entry 4 removed and 5..12 renumbered 4..11 to hide the gap: deleted at 4."""
    entries, checkpoints = chain(12)
    del entries[3]
    entries = [dataclasses.replace(e, seq=e.seq - 1) if e.seq > 4 else e for e in entries]
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (4, ProblemKind.DELETED)


def test_entries_cut_from_the_end_are_reported_as_deleted() -> None:
    """The last two entries removed (the final checkpoint signed 12): deleted at 11."""
    entries, checkpoints = chain(12)
    problem = verify(entries[:10], checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (11, ProblemKind.DELETED)


def test_a_forged_entry_pushed_into_the_middle_is_reported_as_inserted() -> None:
    """A forged entry at 5 (own ciphertext, right link and hash), 5..12 moved to 6..13: inserted at 5."""
    entries, checkpoints = chain(12)
    forged = dataclasses.replace(entries[4], ciphertext=OTHER_CLINIC.seal(5, b"{}"))
    forged = dataclasses.replace(forged, entry_hash=hash_at(forged, 5))
    entries = [*entries[:4], forged, *(dataclasses.replace(e, seq=e.seq + 1) for e in entries[4:])]
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (5, ProblemKind.INSERTED)


def test_a_forged_entry_appended_after_the_last_checkpoint_is_reported_as_inserted() -> None:
    """An entry at 13, correctly linked, that no checkpoint signed: inserted at 13."""
    entries, checkpoints = chain(12)
    forged = dataclasses.replace(entries[11], seq=13, prev_hash=entries[11].entry_hash)
    forged = dataclasses.replace(forged, entry_hash=hash_at(forged, 13))
    problem = verify([*entries, forged], checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (13, ProblemKind.INSERTED)


def test_two_adjacent_entries_swapped_are_reported_as_reordered_at_the_first() -> None:
    """Entries 3 and 4 trade positions: reordered at 3."""
    entries, checkpoints = chain(12)
    entries[2], entries[3] = (
        dataclasses.replace(entries[3], seq=3),
        dataclasses.replace(entries[2], seq=4),
    )
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (3, ProblemKind.REORDERED)


def test_two_distant_entries_swapped_are_reported_as_reordered_at_the_first() -> None:
    """Entries 2 and 10 trade positions: reordered at 2."""
    entries, checkpoints = chain(12)
    entries[1], entries[9] = (
        dataclasses.replace(entries[9], seq=2),
        dataclasses.replace(entries[1], seq=10),
    )
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (2, ProblemKind.REORDERED)


def test_a_forged_checkpoint_signature_is_reported_at_its_position() -> None:
    """The checkpoint at 8 carries a signature by another key: bad_checkpoint at 8."""
    entries, checkpoints = chain(12)
    forged = sign_checkpoint(8, entries[7].entry_hash, OTHER_CLINIC)
    checkpoints[1] = dataclasses.replace(forged, public_key=KEYS.public_key)
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (8, ProblemKind.BAD_CHECKPOINT)


def test_a_checkpoint_re_signed_with_the_forgers_own_key_is_refused() -> None:
    """Replacing both signature and public key does not help: the key is derived from the clinic's."""
    entries, checkpoints = chain(12)
    checkpoints[2] = sign_checkpoint(12, entries[11].entry_hash, OTHER_CLINIC)
    problem = verify(entries, checkpoints).problem
    assert problem is not None and (problem.position, problem.kind) == (12, ProblemKind.BAD_CHECKPOINT)


def test_an_empty_chain_verifies() -> None:
    """A clinic with nothing sealed yet is OK at position 0."""
    result = verify([], [])
    assert result.ok and result.head_seq == 0
