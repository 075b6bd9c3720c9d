"""Who signs a group session record, when it locks, and what may change afterwards.

Every facilitator of the session (the lead and each co-facilitator) documents their own observations
and signs; a trainee's signature also needs a supervisor's co-signature (the trainee's named
supervisor, or staff with the supervisor capability). Signatures carry timestamps.

| Status               | When                                                   | What may change            |
|----------------------|--------------------------------------------------------|----------------------------|
| draft                | nobody has signed                                      | facilitators edit          |
| awaiting_signatures  | someone signed, a facilitator has not                  | unsigned facilitators edit |
| awaiting_cosignature | all signed, a trainee's signature is not co-signed     | unsigned facilitators edit |
| final                | all signed, every trainee signature co-signed: LOCKED  | dated addenda only         |

Signing means "this content is mine", so a facilitator who signed edits nothing more, and content that
every signature covers (the shared group note, attendance, session times: `shared=True`) is frozen as
soon as anyone has signed, so no signature ever attests text that changed after it. A supervisor who
finds a trainee's note wanting returns it (`return_problems`): the trainee's signature is withdrawn, the
trainee edits and signs again. Supervision notes may be attached at any time. A member wrongly put on a
locked record is removed by an amendment touching that member's section alone, with a reason.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from backend.documentation.templates import MAX_TEXT
from backend.errors import FieldProblem


class RecordStatus(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_SIGNATURES = "awaiting_signatures"
    AWAITING_COSIGNATURE = "awaiting_cosignature"
    FINAL = "final"


@dataclass(frozen=True)
class Signer:
    """A facilitator of the session, so a required signer."""

    staff_id: uuid.UUID
    is_trainee: bool = False
    supervisor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Signature:
    staff_id: uuid.UUID
    signed_at: datetime
    cosigned_by: uuid.UUID | None = None
    cosigned_at: datetime | None = None


def _required(signers: Sequence[Signer]) -> dict[uuid.UUID, Signer]:
    # The lead may also be listed as a co-facilitator: one signature each. A staff member listed once as a
    # trainee is treated as a trainee (a missing co-signature is worse than an extra one).
    required: dict[uuid.UUID, Signer] = {}
    for s in signers:
        if s.staff_id not in required or s.is_trainee:
            required[s.staff_id] = s
    return required


def _signed(signatures: Sequence[Signature]) -> dict[uuid.UUID, Signature]:
    return {s.staff_id: s for s in signatures}


def record_status(signers: Sequence[Signer], signatures: Sequence[Signature]) -> RecordStatus:
    """Where the record stands; signatures by staff who are not signers are ignored."""
    required, signed = _required(signers), _signed(signatures)
    if not required.keys() & signed.keys():
        return RecordStatus.DRAFT
    if required.keys() - signed.keys():
        return RecordStatus.AWAITING_SIGNATURES
    if any(s.is_trainee and signed[s.staff_id].cosigned_by is None for s in required.values()):
        return RecordStatus.AWAITING_COSIGNATURE
    return RecordStatus.FINAL


def locked_at(signers: Sequence[Signer], signatures: Sequence[Signature]) -> datetime | None:
    """When the record became final (its last signature or co-signature); None while not final."""
    if record_status(signers, signatures) != RecordStatus.FINAL:
        return None
    required = _required(signers)
    times = [s.signed_at for s in signatures if s.staff_id in required]
    times += [s.cosigned_at for s in signatures if s.staff_id in required and s.cosigned_at is not None]
    return max(times)


def sign_problems(
    signers: Sequence[Signer],
    signatures: Sequence[Signature],
    staff_id: uuid.UUID,
    *,
    content_problems_count: int = 0,
) -> list[FieldProblem]:
    """Why `staff_id` may not sign now; `content_problems_count` is what missing_required found."""
    if record_status(signers, signatures) == RecordStatus.FINAL:
        return [_session("locked", "the record is signed and locked")]
    if staff_id not in _required(signers):
        return [_session("not_a_signer", "only the session's facilitators sign")]
    if staff_id in _signed(signatures):
        return [_session("already_signed", "is already signed by you")]
    if content_problems_count:
        return [_session("incomplete", f"{content_problems_count} required entries are missing")]
    return []


def cosign_problems(
    signers: Sequence[Signer],
    signatures: Sequence[Signature],
    trainee_id: uuid.UUID,
    cosigner_id: uuid.UUID,
    can_cosign: bool,
) -> list[FieldProblem]:
    """Why `cosigner_id` may not co-sign the trainee's signature now.

    `can_cosign`: the caller has the supervisor capability (any trainee); otherwise only the trainee's
    named supervisor may.
    """
    required, signed = _required(signers), _signed(signatures)
    problems = _review_problems(required, signed, trainee_id, cosigner_id, can_cosign)
    if not problems and signed[trainee_id].cosigned_by is not None:
        return [FieldProblem("traineeId", "already_cosigned", "is already co-signed")]
    return problems


def return_problems(
    signers: Sequence[Signer],
    signatures: Sequence[Signature],
    trainee_id: uuid.UUID,
    supervisor_id: uuid.UUID,
    can_cosign: bool,
) -> list[FieldProblem]:
    """Why the supervisor may not return a trainee's signed note for correction (withdrawing the signature).

    Only before the co-signature: once co-signed the supervisor has attested it, and changes are addenda.
    """
    required, signed = _required(signers), _signed(signatures)
    problems = _review_problems(required, signed, trainee_id, supervisor_id, can_cosign)
    if not problems and signed[trainee_id].cosigned_by is not None:
        return [FieldProblem("traineeId", "already_cosigned", "is co-signed; add an addendum instead")]
    return problems


def _review_problems(
    required: dict[uuid.UUID, Signer],
    signed: dict[uuid.UUID, Signature],
    trainee_id: uuid.UUID,
    reviewer_id: uuid.UUID,
    can_cosign: bool,
) -> list[FieldProblem]:
    trainee = required.get(trainee_id)
    if trainee is None or not trainee.is_trainee:
        return [FieldProblem("traineeId", "not_a_trainee", "is not a trainee signer of this session")]
    if trainee_id not in signed:
        return [FieldProblem("traineeId", "not_signed", "has not signed yet")]
    if reviewer_id == trainee_id:
        return [_session("own_signature", "a trainee does not review their own note")]
    reviewer = required.get(reviewer_id)
    if reviewer is not None and reviewer.is_trainee:
        return [_session("not_a_supervisor", "a trainee does not co-sign")]
    if reviewer_id != trainee.supervisor_id and not can_cosign:
        return [_session("not_a_supervisor", "only a supervisor co-signs a trainee's note")]
    return []


def edit_problems(
    status: RecordStatus, signatures: Sequence[Signature], editor_id: uuid.UUID, *, shared: bool = False
) -> list[FieldProblem]:
    """Why `editor_id` may not change the record's content now.

    `shared=True` for what every signature covers (group note, attendance, session times): frozen from
    the first signature. Whether the editor is a facilitator is authorization, checked by the caller.
    """
    if status == RecordStatus.FINAL:
        return [_session("locked", "the record is locked; add an addendum")]
    signed = _signed(signatures)
    if editor_id in signed:
        return [_session("already_signed", "you signed this record; it can no longer be changed by you")]
    if shared and signed:
        return [_session("signed_by_other", "another facilitator signed the shared note")]
    return []


def addendum_problems(status: RecordStatus, text: str, prefix: str = "text") -> list[FieldProblem]:
    """An addendum (dated, by its author: a facilitator or supervisor) amends a final record only."""
    problems = [] if status == RecordStatus.FINAL else [_session("not_final", "edit the record until signed")]
    return problems + _text_problems(text, prefix)


def supervision_note_problems(text: str, *, is_supervisor: bool, prefix: str = "text") -> list[FieldProblem]:
    """Supervisors attach supervision notes whatever the record's status."""
    problems = [] if is_supervisor else [_session("not_a_supervisor", "only supervisors add these notes")]
    return problems + _text_problems(text, prefix)


def removal_problems(
    roster: Collection[str], client_key: str, status: RecordStatus, reason: str, prefix: str = ""
) -> list[FieldProblem]:
    """Why a member may not be removed from the record.

    On a locked record the removal is an amendment to that member's section alone (the group note and
    every other member's section stay as signed) and needs a reason for the audit trail.
    """
    path = f"{prefix}." if prefix else ""
    problems = []
    if client_key not in roster:
        problems.append(FieldProblem(f"{path}clientId", "not_on_roster", "is not on this session's record"))
    if status == RecordStatus.FINAL:
        problems += _text_problems(reason, f"{path}reason")
    return problems


def pending_signers(signers: Sequence[Signer], signatures: Sequence[Signature]) -> list[uuid.UUID]:
    """Facilitators who still owe a signature, in signer order (the "my unsigned sessions" queue)."""
    signed = _signed(signatures)
    return [staff_id for staff_id in _required(signers) if staff_id not in signed]


def awaiting_cosign_by(
    signers: Sequence[Signer],
    signatures: Sequence[Signature],
    supervisor_id: uuid.UUID,
    *,
    can_cosign: bool = False,
) -> list[uuid.UUID]:
    """Trainees whose signature waits for this supervisor (the supervisor review queue).

    A trainee's named supervisor sees them; staff with the capability also see trainees who name nobody.
    """
    signed = _signed(signatures)
    return [
        s.staff_id
        for s in _required(signers).values()
        if s.is_trainee
        and s.staff_id != supervisor_id
        and (sig := signed.get(s.staff_id)) is not None
        and sig.cosigned_by is None
        and (s.supervisor_id == supervisor_id or (can_cosign and s.supervisor_id is None))
    ]


def _text_problems(text: str, path: str) -> list[FieldProblem]:
    if not text.strip():
        return [FieldProblem(path, "required", "must not be empty")]
    if len(text) > MAX_TEXT:
        return [FieldProblem(path, "too_long", f"must be at most {MAX_TEXT:,} characters")]
    return []


def _session(code: str, message: str) -> FieldProblem:
    return FieldProblem("sessionId", code, message)
