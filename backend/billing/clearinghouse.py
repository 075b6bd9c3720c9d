"""The clearinghouse adapter: files out (837 batches, 270 inquiries), responses in (999, 277CA, 835, 271).

`Clearinghouse` is the interface the billing actors use; `FileDropClearinghouse` is the file-drop kind most
clearinghouses offer (an SFTP folder pair, mirrored locally): outbound files go to `root/outbox`, written
to a dot-prefixed temporary file and renamed so a poller never picks up half a file; responses are read
from `root/inbox` (dot-files and *.tmp/*.part are skipped as still being written) and moved to
`root/processed` once handled. Files whose content is none of the four kinds go to `root/unrecognized`.
File names carry no PHI: a UTC timestamp, the kind and our batch id or interchange control number.

The 999 and 277CA readers below return pure values. A 999 says whether each transaction set (ST..SE) of a
batch was accepted (IK5, AK9); a 277CA says, per claim, whether the payer's front end accepted it into
adjudication (STC category A1/A2) or rejected it (A3, A4, A6, A7, A8), the claim found by TRN02 (our CLM01)
or REF*D9.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Protocol

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})


class ResponseKind(StrEnum):
    ACK_999 = "999"
    CLAIM_ACK_277CA = "277CA"
    REMITTANCE_835 = "835"
    ELIGIBILITY_271 = "271"


RESPONSE_KINDS = frozenset(k.value for k in ResponseKind)


@dataclass(frozen=True)
class Response:
    kind: ResponseKind
    name: str  # the file name in the inbox, no PHI
    text: str


class Clearinghouse(Protocol):
    def submit(self, batch_name: str, x12: str) -> str:
        """Send an 837 batch; returns the submission id (also the outbound file's stem)."""
        ...

    def check_eligibility(self, x12_270: str) -> str:
        """Send a 270; returns the submission id."""
        ...

    def responses(self) -> Iterator[Response]:
        """Responses waiting to be handled, oldest first. Each stays waiting until acknowledged."""
        ...

    def acknowledge(self, response: Response) -> None:
        """Mark a response handled (idempotent)."""
        ...


class FileDropClearinghouse:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.outbox, self.inbox = root / "outbox", root / "inbox"
        self.processed, self.unrecognized = root / "processed", root / "unrecognized"
        for folder in (self.outbox, self.inbox, self.processed, self.unrecognized):
            folder.mkdir(parents=True, exist_ok=True)

    def submit(self, batch_name: str, x12: str) -> str:
        if not _SAFE_NAME.match(batch_name):
            raise ValueError("batch names are 1-40 letters, digits, '-' or '_' (and never PHI)")
        kind = transaction_kind(x12)
        if kind not in ("837P", "837I"):
            raise ValueError(f"submit() sends 837 batches, not {kind or 'non-X12 text'}")
        return self._send(kind, batch_name, x12)

    def check_eligibility(self, x12_270: str) -> str:
        if transaction_kind(x12_270) != "270":
            raise ValueError("check_eligibility() sends a 270")
        isa = _segments(x12_270[:200], stop_at="ISA")[0]
        return self._send("270", f"ICN{_at(isa, 13)}", x12_270)

    def responses(self) -> Iterator[Response]:
        for path in self._waiting():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue  # acknowledged by another poller since the listing
            kind = transaction_kind(text)
            if kind in RESPONSE_KINDS:
                yield Response(ResponseKind(kind), path.name, text)
            else:
                os.replace(path, self.unrecognized / path.name)

    def _waiting(self) -> list[Path]:
        """Complete files in the inbox, oldest first. A file the clearinghouse is still writing is
        skipped by name, and one renamed or moved since the listing is not an error."""
        found = []
        for path in self.inbox.iterdir():
            if path.name.startswith(".") or path.suffix in (".tmp", ".part"):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(status.st_mode):
                found.append((status.st_mtime, path.name, path))
        return [path for _, _, path in sorted(found)]

    def acknowledge(self, response: Response) -> None:
        source = self.inbox / response.name
        if source.exists():
            os.replace(source, self.processed / response.name)
        elif not (self.processed / response.name).exists():
            raise FileNotFoundError(f"no response named {response.name}")

    def _send(self, kind: str, reference: str, x12: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        submission_id = f"{stamp}-{kind}-{reference}-{secrets.token_hex(3)}"
        write_atomically(self.outbox / f"{submission_id}.x12", x12)
        return submission_id


def write_atomically(path: Path, text: str) -> None:
    """Write then rename in the same folder: readers see the whole file or nothing."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def transaction_kind(text: str) -> str | None:
    """837P, 837I, 270, 271, 835, 999 or 277CA from ST01 and GS08; None when the text is not X12."""
    segments = _segments(text[:2048], stop_at="ST")  # ISA, GS and ST open every file
    gs = next((s for s in segments if s[0] == "GS"), None)
    st = segments[-1] if segments and segments[-1][0] == "ST" else None
    if st is None or gs is None:
        return None
    version = _at(gs, 8)
    code = _at(st, 1)
    if code == "837":
        return {"005010X222A1": "837P", "005010X223A2": "837I", "005010X223A3": "837I"}.get(version, "837")
    if code == "277":
        return "277CA" if version.startswith("005010X214") else "277"
    return code


# --- 999 ----------------------------------------------------------------------------------------


class AckStatus(StrEnum):
    ACCEPTED = "accepted"  # A
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"  # E
    PARTIALLY_ACCEPTED = "partially_accepted"  # P (AK9 only): some transaction sets rejected
    REJECTED = "rejected"  # R, M, W, X

    @classmethod
    def of(cls, code: str) -> AckStatus:
        return {"A": cls.ACCEPTED, "E": cls.ACCEPTED_WITH_ERRORS, "P": cls.PARTIALLY_ACCEPTED}.get(
            code, cls.REJECTED
        )


@dataclass(frozen=True)
class TransactionAck:
    transaction_set: str  # AK201, e.g. "837"
    control_number: str  # AK202: the ST02 we sent
    status: AckStatus
    error_codes: tuple[str, ...] = ()  # IK502-06, IK304 (segment), IK403 (element) syntax error codes


@dataclass(frozen=True)
class GroupAck:
    functional_id: str  # AK101, e.g. "HC"
    group_control_number: str  # AK102: the GS06 we sent
    status: AckStatus  # AK901
    transactions: tuple[TransactionAck, ...]
    accepted_count: int  # AK904


def parse_999(text: str) -> tuple[GroupAck, ...]:
    """One acknowledgement per functional group answered, in file order."""
    groups: list[GroupAck] = []
    head: list[str] = []
    sets: list[TransactionAck] = []
    current: list[str] | None = None
    errors: list[str] = []
    for s in _segments(text):
        tag = s[0]
        if tag == "AK1":
            head, sets = s, []
        elif tag == "AK2":
            current, errors = s, []
        elif tag == "IK3":
            errors.append(_at(s, 4))
        elif tag == "IK4":
            errors.append(_at(s, 3))
        elif tag == "IK5" and current is not None:
            errors += [c for c in s[2:7] if c]
            sets.append(
                TransactionAck(_at(current, 1), _at(current, 2), AckStatus.of(_at(s, 1)), _codes(errors))
            )
            current = None
        elif tag == "AK9" and head:
            accepted = _at(s, 4)
            groups.append(
                GroupAck(_at(head, 1), _at(head, 2), AckStatus.of(_at(s, 1)), tuple(sets), int(accepted or 0))
            )
    if not groups:
        raise ValueError("no 999 functional group response (AK1..AK9) found")
    return tuple(groups)


# --- 277CA --------------------------------------------------------------------------------------


class ClaimAckStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending"  # another category (e.g. A0 forwarded is accepted; P/R categories are not A*)


@dataclass(frozen=True)
class StatusCode:
    category: str  # STC01-1: A1 received, A2 accepted, A3 returned unprocessable, A7 invalid information...
    code: str  # STC01-2: claim status code (e.g. 20 accepted for processing, 562 entity's NPI...)
    entity: str | None = None  # STC01-3: which party the status is about (e.g. 85 billing provider)


@dataclass(frozen=True)
class ClaimAck:
    claim_id: str | None  # TRN02 (our CLM01), else REF*D9
    status: ClaimAckStatus
    statuses: tuple[StatusCode, ...]
    charge: Decimal | None = None  # STC04
    payer_claim_number: str | None = None  # REF*1K
    clearinghouse_trace: str | None = None  # REF*D9


@dataclass(frozen=True)
class ClaimsAck:
    """A 277CA: the batch-level statuses (a rejection there means no claim went further) and each claim's."""

    batch_statuses: tuple[StatusCode, ...]
    claims: tuple[ClaimAck, ...]

    @property
    def batch_rejected(self) -> bool:
        return any(s.category in REJECTED_CATEGORIES for s in self.batch_statuses)


@dataclass
class _Claim:
    trn: str | None = None
    statuses: list[StatusCode] = field(default_factory=list)
    charge: Decimal | None = None
    refs: dict[str, str] = field(default_factory=dict)

    def value(self) -> ClaimAck:
        categories = {s.category for s in self.statuses}
        status = ClaimAckStatus.PENDING
        if categories & REJECTED_CATEGORIES:
            status = ClaimAckStatus.REJECTED
        elif categories & ACCEPTED_CATEGORIES:
            status = ClaimAckStatus.ACCEPTED
        return ClaimAck(
            claim_id=self.trn or self.refs.get("D9"),
            status=status,
            statuses=tuple(self.statuses),
            charge=self.charge,
            payer_claim_number=self.refs.get("1K"),
            clearinghouse_trace=self.refs.get("D9"),
        )


def parse_277ca(text: str) -> ClaimsAck:
    """Per-claim acceptance from a 277CA (005010X214); claims are the HL*..*PT levels."""
    batch: list[StatusCode] = []
    claims: list[_Claim] = []
    in_claim = in_service = False
    for s in _segments(text):
        tag = s[0]
        if tag == "HL":
            in_claim, in_service = _at(s, 3) == "PT", False
            if in_claim:
                claims.append(_Claim())
        elif tag == "SVC":
            in_service = True  # line-level statuses (2220D) follow; the claim's own status came first
        elif tag == "STC" and not in_service:
            codes = [_status(c) for c in (_at(s, 1), _at(s, 10), _at(s, 11)) if c]
            if in_claim:
                claims[-1].statuses += codes
                claims[-1].charge = _decimal(_at(s, 4))
            else:
                batch += codes
        elif in_claim and not in_service and tag == "TRN":
            claims[-1].trn = _at(s, 2) or None
        elif in_claim and not in_service and tag == "REF":
            claims[-1].refs[_at(s, 1)] = _at(s, 2)
    if not claims and not batch:
        raise ValueError("no 277CA status found")
    return ClaimsAck(tuple(batch), tuple(c.value() for c in claims))


# --- segments -----------------------------------------------------------------------------------


def _segments(text: str, stop_at: str | None = None) -> list[list[str]]:
    """Segments as element lists, components joined by ':' whatever the sender's separator."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        return []
    element, component, terminator = text[3], text[104], text[105]
    out = []
    for raw in text.split(terminator):
        fields = [f.replace(component, ":") for f in raw.strip().split(element)]
        if fields[0]:
            out.append(fields)
            if fields[0] == stop_at:
                break
    return out


def _status(composite: str) -> StatusCode:
    parts = composite.split(":")
    return StatusCode(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None)


def _codes(codes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for c in codes if c))


def _at(s: list[str], index: int) -> str:
    return s[index].strip() if index < len(s) else ""


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value).quantize(Decimal("0.01")) if value else None
    except InvalidOperation:
        return None
