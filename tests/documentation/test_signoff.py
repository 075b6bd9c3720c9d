"""Sign-off: co-facilitator signatures, trainee co-signature, the lock, addenda and amendments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from backend.documentation.signoff import (
    RecordStatus,
    Signature,
    Signer,
    addendum_problems,
    awaiting_cosign_by,
    cosign_problems,
    edit_problems,
    locked_at,
    pending_signers,
    record_status,
    removal_problems,
    return_problems,
    sign_problems,
    supervision_note_problems,
)
from backend.errors import FieldProblem

S = RecordStatus
LEAD, COFAC, TRAINEE, SUPERVISOR, OTHER_SUPERVISOR, STRANGER = (uuid.uuid4() for _ in range(6))
T0 = datetime(2026, 10, 5, 19, 0, tzinfo=UTC)
SIGNERS = [Signer(LEAD), Signer(COFAC)]
WITH_TRAINEE = [Signer(LEAD), Signer(TRAINEE, is_trainee=True, supervisor_id=SUPERVISOR)]


def _codes(problems: Sequence[FieldProblem]) -> set[tuple[str, str]]:
    return {(p.field, p.code) for p in problems}


def _sig(staff_id: uuid.UUID, minutes: int = 0, cosigned_by: uuid.UUID | None = None) -> Signature:
    at = T0 + timedelta(minutes=minutes)
    return Signature(staff_id, at, cosigned_by, at + timedelta(hours=1) if cosigned_by else None)


# -- status --------------------------------------------------------------------------------------


def test_a_record_nobody_signed_is_a_draft() -> None:
    """Before the first signature every facilitator may still edit."""
    assert record_status(SIGNERS, []) == S.DRAFT


def test_a_record_is_final_only_when_every_facilitator_signed() -> None:
    """Co-facilitators each sign their own observations; one signature is not enough."""
    assert record_status(SIGNERS, [_sig(LEAD)]) == S.AWAITING_SIGNATURES
    assert record_status(SIGNERS, [_sig(LEAD), _sig(COFAC, 5)]) == S.FINAL


def test_record_with_a_trainee_is_final_only_after_cosignature() -> None:
    """A trainee's note goes to the supervisor before the record locks."""
    assert record_status(WITH_TRAINEE, [_sig(LEAD), _sig(TRAINEE)]) == S.AWAITING_COSIGNATURE
    assert record_status(WITH_TRAINEE, [_sig(LEAD), _sig(TRAINEE, cosigned_by=SUPERVISOR)]) == S.FINAL


def test_a_cosigned_trainee_does_not_finalize_while_the_lead_has_not_signed() -> None:
    """The lead's missing signature keeps the record open even when the trainee's part is done."""
    assert record_status(WITH_TRAINEE, [_sig(TRAINEE, cosigned_by=SUPERVISOR)]) == S.AWAITING_SIGNATURES


def test_a_signature_by_someone_not_facilitating_does_not_count() -> None:
    """Only the session's facilitators' signatures move the record forward."""
    assert record_status(SIGNERS, [_sig(STRANGER)]) == S.DRAFT
    assert record_status(SIGNERS, [_sig(LEAD), _sig(STRANGER)]) == S.AWAITING_SIGNATURES


def test_a_lead_listed_twice_signs_once() -> None:
    """The lead also listed as co-facilitator is one signer, not two."""
    assert record_status([Signer(LEAD), Signer(LEAD)], [_sig(LEAD)]) == S.FINAL


def test_a_staff_member_listed_once_as_trainee_needs_the_cosignature() -> None:
    """Conflicting listings err on the side of supervision: the record waits for the co-signature."""
    signers = [Signer(TRAINEE), Signer(TRAINEE, is_trainee=True, supervisor_id=SUPERVISOR)]
    assert record_status(signers, [_sig(TRAINEE)]) == S.AWAITING_COSIGNATURE


def test_locked_at_is_the_last_signature_or_cosignature() -> None:
    """The lock time (for timeliness reports) is when the last required signature arrived."""
    signatures = [_sig(LEAD, 30), _sig(TRAINEE, 0, cosigned_by=SUPERVISOR)]
    assert locked_at(WITH_TRAINEE, signatures) == T0 + timedelta(hours=1)
    assert locked_at(WITH_TRAINEE, [_sig(LEAD), _sig(TRAINEE)]) is None


# -- signing and co-signing ----------------------------------------------------------------------


def test_a_facilitator_may_sign_a_complete_record() -> None:
    """No problems: the lead signs."""
    assert sign_problems(SIGNERS, [], LEAD) == []


@pytest.mark.parametrize(
    ("signatures", "staff_id", "count", "code"),
    [
        ([], STRANGER, 0, "not_a_signer"),
        ([_sig(LEAD)], LEAD, 0, "already_signed"),
        ([_sig(LEAD), _sig(COFAC)], COFAC, 0, "locked"),
        ([], LEAD, 3, "incomplete"),
    ],
)
def test_signing_is_refused_when_it_should_be(
    signatures: list[Signature], staff_id: uuid.UUID, count: int, code: str
) -> None:
    """Only facilitators sign, once each, a complete and not yet locked record."""
    problems = sign_problems(SIGNERS, signatures, staff_id, content_problems_count=count)
    assert _codes(problems) == {("sessionId", code)}


def test_the_named_supervisor_may_cosign() -> None:
    """The trainee's own supervisor co-signs without a general supervisor capability."""
    assert cosign_problems(WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, SUPERVISOR, can_cosign=False) == []


def test_staff_with_supervisor_capability_may_cosign_any_trainee() -> None:
    """Another supervisor covers when the named one is away."""
    assert cosign_problems(WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, OTHER_SUPERVISOR, can_cosign=True) == []


@pytest.mark.parametrize(
    ("signers", "signatures", "trainee", "cosigner", "expected"),
    [
        (WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, STRANGER, ("sessionId", "not_a_supervisor")),
        (WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, TRAINEE, ("sessionId", "own_signature")),
        (WITH_TRAINEE, [_sig(TRAINEE)], LEAD, SUPERVISOR, ("traineeId", "not_a_trainee")),
        (WITH_TRAINEE, [_sig(LEAD)], TRAINEE, SUPERVISOR, ("traineeId", "not_signed")),
        (
            WITH_TRAINEE,
            [_sig(TRAINEE, cosigned_by=SUPERVISOR)],
            TRAINEE,
            SUPERVISOR,
            ("traineeId", "already_cosigned"),
        ),
        (
            [*WITH_TRAINEE, Signer(COFAC, is_trainee=True, supervisor_id=SUPERVISOR)],
            [_sig(TRAINEE)],
            TRAINEE,
            COFAC,
            ("sessionId", "not_a_supervisor"),
        ),
    ],
)
def test_cosigning_is_refused_when_it_should_be(
    signers: list[Signer],
    signatures: list[Signature],
    trainee: uuid.UUID,
    cosigner: uuid.UUID,
    expected: tuple[str, str],
) -> None:
    """Only a supervisor co-signs, a trainee's existing signature, once."""
    assert _codes(cosign_problems(signers, signatures, trainee, cosigner, can_cosign=False)) == {expected}


def test_a_trainee_cannot_cosign_even_with_the_capability_flag_set() -> None:
    """A fellow trainee facilitating the same session never co-signs."""
    signers = [*WITH_TRAINEE, Signer(COFAC, is_trainee=True, supervisor_id=SUPERVISOR)]
    assert _codes(cosign_problems(signers, [_sig(TRAINEE)], TRAINEE, COFAC, can_cosign=True)) == {
        ("sessionId", "not_a_supervisor")
    }


def test_a_supervisor_may_return_a_note_before_cosigning_only() -> None:
    """Returning withdraws the trainee's signature for corrections; after co-signature, addenda only."""
    assert return_problems(WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, SUPERVISOR, can_cosign=False) == []
    cosigned = [_sig(TRAINEE, cosigned_by=SUPERVISOR)]
    assert _codes(return_problems(WITH_TRAINEE, cosigned, TRAINEE, SUPERVISOR, can_cosign=False)) == {
        ("traineeId", "already_cosigned")
    }
    assert _codes(return_problems(WITH_TRAINEE, [_sig(TRAINEE)], TRAINEE, STRANGER, can_cosign=False)) == {
        ("sessionId", "not_a_supervisor")
    }


# -- editing, addenda, amendments -----------------------------------------------------------------


def test_a_draft_is_edited_freely() -> None:
    """Before anyone signs, facilitators edit the group note and their own observations."""
    assert edit_problems(S.DRAFT, [], LEAD, shared=True) == []


def test_a_signer_cannot_edit_after_signing() -> None:
    """Signing means the content is yours as it stands."""
    assert _codes(edit_problems(S.AWAITING_SIGNATURES, [_sig(LEAD)], LEAD)) == {
        ("sessionId", "already_signed")
    }


def test_another_facilitator_edits_their_own_part_but_not_what_was_signed() -> None:
    """After the lead signed, the co-facilitator still writes their observations, not the shared note."""
    signatures = [_sig(LEAD)]
    assert edit_problems(S.AWAITING_SIGNATURES, signatures, COFAC) == []
    assert _codes(edit_problems(S.AWAITING_SIGNATURES, signatures, COFAC, shared=True)) == {
        ("sessionId", "signed_by_other")
    }


def test_locked_record_refuses_edits_but_takes_addenda() -> None:
    """A final record changes only by dated addenda."""
    signatures = [_sig(LEAD), _sig(COFAC)]
    status = record_status(SIGNERS, signatures)
    assert _codes(edit_problems(status, signatures, STRANGER)) == {("sessionId", "locked")}
    assert addendum_problems(status, "Late entry: member called after group to report feeling safer.") == []


def test_an_addendum_is_only_for_a_final_record() -> None:
    """Before the lock the record is edited, not amended."""
    assert _codes(addendum_problems(S.AWAITING_SIGNATURES, "text")) == {("sessionId", "not_final")}


@pytest.mark.parametrize(
    ("text", "code"), [("", "required"), ("   \n", "required"), ("x" * 20_001, "too_long")]
)
def test_an_addendum_needs_text_of_sensible_length(text: str, code: str) -> None:
    """Empty addenda and text past 20,000 characters are refused, naming the field."""
    assert _codes(addendum_problems(S.FINAL, text, prefix="addendum.text")) == {("addendum.text", code)}


def test_supervisors_attach_supervision_notes_whatever_the_status() -> None:
    """Supervisors add notes before or after the lock (no status asked); other staff may not."""
    assert supervision_note_problems("Discussed countertransference.", is_supervisor=True) == []
    assert _codes(supervision_note_problems("note", is_supervisor=False)) == {
        ("sessionId", "not_a_supervisor")
    }


def test_removing_a_member_not_on_the_record_is_refused() -> None:
    """A removal names a member the record holds."""
    assert _codes(removal_problems({"c1", "c2"}, "c9", S.DRAFT, "")) == {("clientId", "not_on_roster")}
    assert removal_problems({"c1", "c2"}, "c2", S.DRAFT, "") == []


def test_removing_a_member_from_a_locked_record_needs_a_reason() -> None:
    """On a locked record a removal is an amendment of that member's section, with a reason for the audit."""
    assert _codes(removal_problems({"c1"}, "c1", S.FINAL, " ")) == {("reason", "required")}
    assert removal_problems({"c1"}, "c1", S.FINAL, "Marked on the wrong group's session") == []


# -- queues --------------------------------------------------------------------------------------


def test_pending_signers_lists_who_still_owes_a_signature() -> None:
    """The "my unsigned sessions" queue: a signer drops off once signed, in signer order."""
    signers = [Signer(LEAD), Signer(COFAC), Signer(TRAINEE, is_trainee=True)]
    assert pending_signers(signers, []) == [LEAD, COFAC, TRAINEE]
    assert pending_signers(signers, [_sig(COFAC), _sig(TRAINEE)]) == [LEAD]


def test_awaiting_cosign_lists_this_supervisors_signed_trainees() -> None:
    """The review queue: signed and not yet co-signed trainees of this supervisor only."""
    other_trainee = uuid.uuid4()
    signers = [*WITH_TRAINEE, Signer(other_trainee, is_trainee=True, supervisor_id=OTHER_SUPERVISOR)]
    assert awaiting_cosign_by(signers, [], SUPERVISOR) == []
    signatures = [_sig(TRAINEE), _sig(other_trainee)]
    assert awaiting_cosign_by(signers, signatures, SUPERVISOR) == [TRAINEE]
    assert awaiting_cosign_by(signers, [_sig(TRAINEE, cosigned_by=SUPERVISOR)], SUPERVISOR) == []


def test_trainees_without_a_named_supervisor_show_to_staff_who_can_cosign() -> None:
    """Nobody's trainee is nobody's review: anyone with the capability sees them."""
    signers = [Signer(LEAD), Signer(TRAINEE, is_trainee=True)]
    assert awaiting_cosign_by(signers, [_sig(TRAINEE)], SUPERVISOR) == []
    assert awaiting_cosign_by(signers, [_sig(TRAINEE)], SUPERVISOR, can_cosign=True) == [TRAINEE]
