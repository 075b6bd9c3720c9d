"""Verifying a sealed audit chain, pure: entries in position order and checkpoints in, a result
naming the first bad position and what happened there out.

Every entry must sit at the next position, link to the previous entry's hash, hash to its stored
hash, open (AES-GCM, its position as associated data) and agree with its cleartext columns; every
position must be covered by a checkpoint and every checkpoint must carry this clinic's signature
over the hash at its position. At the first failure the neighbourhood is examined to say which
tampering explains it:

| kind           | what is found at the position                                                   |
|----------------|---------------------------------------------------------------------------------|
| deleted        | a gap, or the genuine next entry renumbered into the hole, or entries a          |
|                | checkpoint signed are missing at the end                                        |
| inserted       | an entry no genuine one explains, followed by the genuine entry of this position; |
|                | a second entry at a taken position; an entry no checkpoint covers               |
| reordered      | a genuine entry of another position, whose own position holds this one's entry  |
| edited         | anything else: a changed column, hash or ciphertext                             |
| bad_checkpoint | a checkpoint whose signature or key is not this clinic's                        |
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from backend.compliance.audit.chain import (
    GENESIS_HASH,
    Checkpoint,
    EntryUnreadable,
    KeyLookup,
    SealedEntry,
    checkpoint_valid,
    hash_at,
    open_entry,
)


class ProblemKind(enum.StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_CHECKPOINT = "bad_checkpoint"


@dataclass(frozen=True)
class Problem:
    position: int
    kind: ProblemKind
    # Why, in words; never the content of an entry.
    detail: str


@dataclass(frozen=True)
class Verification:
    entries_checked: int
    checkpoints_checked: int
    head_seq: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Stream:
    """The entries with look-ahead (the classification peeks at what follows the first failure)."""

    def __init__(self, entries: Iterable[SealedEntry]) -> None:
        self._source: Iterator[SealedEntry] = iter(entries)
        self._ahead: deque[SealedEntry] = deque()

    def next(self) -> SealedEntry | None:
        if self._ahead:
            return self._ahead.popleft()
        return next(self._source, None)

    def peek(self) -> SealedEntry | None:
        if not self._ahead:
            following = next(self._source, None)
            if following is None:
                return None
            self._ahead.append(following)
        return self._ahead[0]

    def rest(self) -> Iterator[SealedEntry]:
        while (entry := self.next()) is not None:
            yield entry


def sound_at(entry: SealedEntry, seq: int, keys: KeyLookup) -> bool:
    """Whether `entry` is exactly what the sealer wrote for position `seq` (hash, ciphertext, columns)."""
    if hash_at(entry, seq) != entry.entry_hash:
        return False
    try:
        open_entry(entry, keys, seq)
    except (EntryUnreadable, LookupError, ValueError):
        return False
    return True


def verify_chain(
    entries: Iterable[SealedEntry], checkpoints: Sequence[Checkpoint], keys: KeyLookup
) -> Verification:
    """Check the whole chain (entries ordered by their stored `seq`) and its checkpoints."""
    # Each signature is checked once; a position may hold a kept checkpoint and the signed head.
    by_seq: dict[int, list[tuple[Checkpoint, bool]]] = {}
    for checkpoint in checkpoints:
        by_seq.setdefault(checkpoint.seq, []).append((checkpoint, checkpoint_valid(checkpoint, keys)))
    last_checkpoint = max(by_seq, default=0)
    last_valid = max((c.seq for found in by_seq.values() for c, ok in found if ok), default=0)
    stream = _Stream(entries)
    expected, prev, checked = 1, GENESIS_HASH, 0

    def result(problem: Problem | None) -> Verification:
        signed = sum(len(found) for seq, found in by_seq.items() if seq < expected)
        return Verification(checked, signed, expected - 1, problem)

    while (entry := stream.next()) is not None:
        problem = _position_problem(entry, expected, last_checkpoint)
        if problem is None and not (entry.prev_hash == prev and sound_at(entry, expected, keys)):
            problem = _classify(entry, expected, prev, stream, keys, last_valid)
        if problem is None:
            problem = _checkpoint_problem(by_seq.get(expected, []), entry)
        if problem is not None:
            return result(problem)
        checked += 1
        prev = entry.entry_hash
        expected += 1
    if last_checkpoint >= expected:
        return result(
            Problem(expected, ProblemKind.DELETED, "entries signed by a checkpoint are missing at the end")
        )
    return result(None)


def _position_problem(entry: SealedEntry, expected: int, last_checkpoint: int) -> Problem | None:
    if entry.seq > expected:
        return Problem(expected, ProblemKind.DELETED, f"positions {expected} to {entry.seq - 1} are missing")
    if entry.seq < expected:
        return Problem(entry.seq, ProblemKind.INSERTED, "a second entry claims this position")
    if expected > last_checkpoint:
        return Problem(expected, ProblemKind.INSERTED, "no signed checkpoint covers this entry")
    return None


def _checkpoint_problem(found: list[tuple[Checkpoint, bool]], entry: SealedEntry) -> Problem | None:
    for checkpoint, valid in found:
        if not valid:
            return Problem(
                checkpoint.seq, ProblemKind.BAD_CHECKPOINT, "the checkpoint's signature is not valid"
            )
        if checkpoint.head_hash != entry.entry_hash:
            return Problem(
                checkpoint.seq, ProblemKind.EDITED, "the chain differs from what the checkpoint signed"
            )
    return None


def _classify(
    entry: SealedEntry, seq: int, prev: bytes, stream: _Stream, keys: KeyLookup, last_valid: int
) -> Problem:
    """Name the tampering that explains a bad entry at `seq` (the chain is good before it)."""
    if sound_at(entry, seq, keys):
        return Problem(seq, ProblemKind.EDITED, "the entry's link to the previous entry was changed")
    following = stream.peek()
    if following is not None and following.seq == seq + 1:
        genuine_next = sound_at(entry, seq + 1, keys)
        if genuine_next and sound_at(following, seq, keys):
            return Problem(seq, ProblemKind.REORDERED, f"entries {seq} and {seq + 1} were swapped")
        if following.prev_hash == prev and sound_at(following, seq, keys):
            return Problem(seq, ProblemKind.INSERTED, "an entry was added before this position's entry")
        if genuine_next:
            return Problem(seq, ProblemKind.DELETED, "the entry was removed and later ones renumbered")
    if seq > last_valid:
        return Problem(seq, ProblemKind.INSERTED, "an entry not covered by a valid checkpoint")
    for later in stream.rest():
        if hash_at(entry, later.seq) == entry.entry_hash and sound_at(entry, later.seq, keys):
            if sound_at(later, seq, keys):
                return Problem(seq, ProblemKind.REORDERED, f"entries {seq} and {later.seq} were swapped")
            break
    return Problem(seq, ProblemKind.EDITED, "the entry does not match its hash or does not open")
