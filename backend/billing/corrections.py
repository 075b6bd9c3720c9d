"""Correcting a claim the payer already has: a replacement (frequency 7) or a void (8), never an edit.

A replacement is re-decided from the session as it stands now (e.g. after an addendum changed the
member's diagnoses or coverage), under the original's authorization; a void withdraws the claim and
gives back the authorization use.
A member removed from a final record has their claim withdrawn: deleted while still unsent, voided
once the payer has it (an unsent replacement becomes the void of the claim it was to replace). An
IOP/PHP week (837I) is corrected as a whole, rebuilt from its days: removing a member from one day
rewrites, replaces or voids the week without that day.
A primary payer that answers a claim again moves its secondary claim with it (`follow_primary_answers`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.billing.claim_builder import build_claim, claim_number, claimable
from backend.billing.coordination import ADJUDICATED
from backend.billing.documents import (
    claim_document,
    claim_from_document,
    corrected,
    corrected_week,
    institutional_document,
    institutional_from_document,
)
from backend.billing.iop_claims import give_back_days, rebuilt_week, week_claims_of_day
from backend.billing.models import PRIMARY, SECONDARY, Claim, ClaimFormat, ClaimStatus
from backend.billing.part2_payment import part2_of, with_part2
from backend.billing.secondary_claims import authorization_uses, carries_answer, rebuilt_secondary
from backend.billing.session_facts import load
from backend.clients.models import Authorization
from backend.clients.store import give_back_uses
from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import LevelOfCare, Program
from backend.scheduling.models import GroupSession
from backend.workers.outbox import Payload, handler

log = logging.getLogger(__name__)
MEMBER_REMOVED = "billing.member_removed"
CORRECTABLE = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.ACCEPTED,
    ClaimStatus.PAID,
    ClaimStatus.PARTIALLY_PAID,
    ClaimStatus.DENIED,
)


def _correctable(session: Session, claim_id: uuid.UUID) -> Claim:
    claim = session.get(Claim, claim_id, with_for_update=True)
    if claim is None:
        raise InputRejected([FieldProblem("claimId", "not_found", "does not name a claim in this clinic")])
    if claim.status not in CORRECTABLE:
        raise InputRejected(
            [FieldProblem("claimId", "not_correctable", f"the claim is {claim.status.value}")]
        )
    if not claim.payer_claim_number:
        raise InputRejected(
            [FieldProblem("claimId", "not_adjudicated", "the payer has not numbered this claim yet")]
        )
    return claim


def _successor(
    original: Claim, number: str, frequency: str, document: dict[str, object], total: object
) -> Claim:
    return Claim(
        id=uuid.uuid4(),
        billable_event_id=original.billable_event_id,
        session_id=original.session_id,
        client_id=original.client_id,
        payer_id=original.payer_id,
        authorization_id=original.authorization_id,
        claim_number=number,
        claim_format=original.claim_format,
        frequency=frequency,
        responsibility=original.responsibility,
        primary_claim_id=original.primary_claim_id,
        replaces_claim_id=original.id,
        status=ClaimStatus.READY,
        service_date=original.service_date,
        total_charge=total,
        document=document,
    )


def replace_claim(session: Session, claim_id: uuid.UUID) -> Claim:
    """A frequency-7 claim re-decided from the session now; the original becomes REPLACED."""
    original = _correctable(session, claim_id)
    if original.responsibility == SECONDARY:
        number = claim_number()
        document, total, primary_id = rebuilt_secondary(
            session, original, number, "7", original.payer_claim_number
        )
        successor = _successor(original, number, "7", document, total)
        successor.primary_claim_id = primary_id
        _reuse(session, successor, authorization_uses(original))
        return _replaces(session, original, successor)
    if original.claim_format is ClaimFormat.INSTITUTIONAL:
        return _replace_week(session, original)
    billing = load(session, original.session_id)
    assert billing is not None
    decision = next(
        (claimable(billing, d) for d in billing.decide() if d.client_key == str(original.client_id)), None
    )
    if decision is None or not decision.billed:
        codes = ", ".join(r.code for r in decision.reasons) if decision else "not on the roster"
        raise _no_longer_billable(codes)
    # The replacement corrects the original service: it carries the authorization the original used
    # (and counted), not the one a new claim would draw on now (which may be another, or none).
    used = session.get(Authorization, original.authorization_id) if original.authorization_id else None
    others = {c: a for c, a in billing.authorizations.items() if c != original.client_id}
    billing = replace(billing, authorizations=others | ({original.client_id: used} if used else {}))
    number = claim_number()
    subscriber, claim = build_claim(billing, decision, number, "7", original.payer_claim_number)
    document = with_part2(claim_document(subscriber, claim), billing.part2.get(original.client_id))
    return _replaces(session, original, _successor(original, number, "7", document, claim.total_charge))


def _replaces(session: Session, original: Claim, successor: Claim) -> Claim:
    session.add(successor)
    original.status = ClaimStatus.REPLACED
    original.updated_at = utcnow()
    session.flush()
    return successor


def _no_longer_billable(codes: str) -> InputRejected:
    return InputRejected(
        [FieldProblem("claimId", "no_longer_billable", f"not billable now ({codes}): void it instead")]
    )


def _replace_week(session: Session, original: Claim) -> Claim:
    """An IOP/PHP week built again from its days as they stand now (a day whose member was removed
    from the record is left out, and its authorization day given back)."""
    number = claim_number()
    week = rebuilt_week(session, original, "7", number, original.payer_claim_number)
    if week is None:
        raise _no_longer_billable("no day of the week is billable")
    give_back_days(session, original, keep=[e.id for e in week.events])
    return _replaces(
        session, original, _successor(original, number, "7", week.document, week.claim.total_charge)
    )


def void_claim(session: Session, claim_id: uuid.UUID) -> Claim:
    """A frequency-8 claim withdrawing the original (VOIDED); its authorization use is given back. A
    primary claim voided takes the secondary claim for the service with it (withdrawn while unsent,
    voided once the secondary payer has it): it quoted an answer to a claim that no longer stands."""
    original = _correctable(session, claim_id)
    number = claim_number()
    document, total = _void_document(original, number)
    successor = _successor(original, number, "8", document, total)
    session.add(successor)
    original.status = ClaimStatus.VOIDED
    original.updated_at = utcnow()
    give_back_authorization(session, original)
    session.flush()
    if original.responsibility == PRIMARY:
        for secondary in session.scalars(_live(original.billable_event_id, SECONDARY).with_for_update()):
            _withdraw(session, secondary)
    return successor


def _void_document(original: Claim, number: str) -> tuple[dict[str, object], Decimal]:
    """The document and total of claim `number` voiding `original` (as the payer numbered it)."""
    ref = original.payer_claim_number or ""
    part2 = part2_of(original.document)
    if original.claim_format is ClaimFormat.INSTITUTIONAL:
        subscriber, week = institutional_from_document(original.document)
        voided_week = corrected_week(week, number, "8", ref)
        document = institutional_document(subscriber, voided_week, [])
        return with_part2(document, part2), voided_week.total_charge
    subscriber, claim = claim_from_document(original.document)
    voided = corrected(claim, number, "8", ref)
    return with_part2(claim_document(subscriber, voided), part2), voided.total_charge


def _reuse(session: Session, claim: Claim, before: int) -> None:
    """A secondary IOP/PHP week rebuilt with fewer (or more) days than it had: its authorization
    counts the difference."""
    if claim.claim_format is not ClaimFormat.INSTITUTIONAL or claim.authorization_id is None:
        return
    change = authorization_uses(claim) - before
    if change:  # a negative give-back takes uses
        session.execute(give_back_uses(claim.authorization_id, -change))


def give_back_authorization(session: Session, claim: Claim) -> None:
    """The claim's authorization use, returned (a claim withdrawn or voided did not use a session;
    an IOP/PHP week, none of its days: marked on them for the primary payer's authorization, counted
    on the claim for the secondary's)."""
    if claim.claim_format is ClaimFormat.INSTITUTIONAL and claim.responsibility == PRIMARY:
        give_back_days(session, claim)
    elif claim.authorization_id is not None:
        session.execute(give_back_uses(claim.authorization_id, authorization_uses(claim)))


@handler(MEMBER_REMOVED)
def on_member_removed(session: Session, payload: Payload) -> None:
    """Withdraw the removed member's claim for the session: delete it while unsent, void it once sent.
    An IOP/PHP day is one line of its week's claim: the week is billed again without it."""
    session_id = uuid.UUID(str(payload["session_id"]))
    client_id = uuid.UUID(str(payload["client_id"]))
    gs = session.get(GroupSession, session_id)
    program = session.get(Program, gs.program_id) if gs and gs.program_id else None
    if gs is not None and program is not None and program.level_of_care is not LevelOfCare.OUTPATIENT:
        day = gs.starts_at.astimezone(ZoneInfo(program.timezone)).date()
        weeks = week_claims_of_day(session, program.id, client_id, day)
        for week in weeks:
            if week.responsibility == PRIMARY:
                _without_removed_day(session, week)
        # A secondary week follows the primary's answer to the corrected week (held until then); with
        # no day left to bill, it is withdrawn too.
        for week in weeks:
            if week.responsibility == SECONDARY and not _primary_left(session, week):
                _withdraw(session, week)
        return
    claims = session.scalars(
        select(Claim)
        .where(
            Claim.session_id == session_id,
            Claim.client_id == client_id,
            Claim.frequency.in_(["1", "7"]),
            Claim.status.not_in([ClaimStatus.VOIDED, ClaimStatus.REPLACED]),
        )
        .with_for_update()
    )
    for claim in claims:
        _withdraw(session, claim)


def _live(billable_event_id: uuid.UUID, responsibility: str) -> Select[Claim]:
    """The claims still billing a service to the payer of `responsibility`: an original or a
    replacement, neither voided nor replaced."""
    return select(Claim).where(
        Claim.billable_event_id == billable_event_id,
        Claim.responsibility == responsibility,
        Claim.frequency.in_(["1", "7"]),
        Claim.status.not_in([ClaimStatus.VOIDED, ClaimStatus.REPLACED]),
    )


def _primary_left(session: Session, secondary: Claim) -> bool:
    """Whether a primary claim still bills the secondary claim's service (an original or replacement
    not voided or replaced)."""
    live = _live(secondary.billable_event_id, PRIMARY).with_only_columns(Claim.id).limit(1)
    return session.scalar(live) is not None


def _withdraw(session: Session, claim: Claim) -> None:
    """Nothing the claim bills is billable any more: an unsent original is never sent; an unsent
    replacement becomes the void of the payer's claim it was to replace; a sent claim is voided (one
    withdrawn already, e.g. with its primary, is left as it is)."""
    if claim.status in (ClaimStatus.VOIDED, ClaimStatus.REPLACED):
        return
    if claim.status == ClaimStatus.READY:
        give_back_authorization(session, claim)
        replaced = session.get(Claim, claim.replaces_claim_id) if claim.replaces_claim_id else None
        if claim.frequency == "7" and replaced is not None:
            claim.document, claim.total_charge = _void_document(replaced, claim.claim_number)
            claim.frequency = "8"
            replaced.status = ClaimStatus.VOIDED
        else:
            claim.status = ClaimStatus.VOIDED
        claim.updated_at = utcnow()
    elif claim.payer_claim_number:
        void_claim(session, claim.id)


def _without_removed_day(session: Session, claim: Claim) -> None:
    """An unsent week claim is rewritten (or withdrawn when no day is left); a sent one is replaced
    (or voided)."""
    if claim.status == ClaimStatus.READY:
        ref = institutional_from_document(claim.document)[1].original_claim_ref
        week = rebuilt_week(session, claim, claim.frequency, claim.claim_number, ref)
        if week is None:
            _withdraw(session, claim)
        else:
            give_back_days(session, claim, keep=[e.id for e in week.events])
            claim.document = week.document
            claim.total_charge = week.claim.total_charge
            claim.service_date = week.claim.statement_from
        claim.updated_at = utcnow()
    elif claim.payer_claim_number:
        try:
            replace_claim(session, claim.id)
        except InputRejected:  # no day of the week is billable any more
            void_claim(session, claim.id)


def follow_primary_answers(session: Session, posted: Sequence[tuple[Claim, str]]) -> None:
    """Primary claims an 835 answered again (a reversal and its correction, or a later payment) whose
    service was billed to the secondary payer with the earlier answer: an unsent secondary claim is
    rebuilt in place, a sent one replaced (7) naming the secondary payer's claim; when the new answer
    leaves nothing owed, the unsent one is withdrawn and a sent one voided. A reversal alone changes
    nothing here: the unsent secondary claim waits for the new answer (submission holds it)."""
    last = {claim.id: (claim, outcome) for claim, outcome in posted}
    for primary, outcome in last.values():
        if primary.responsibility != PRIMARY or outcome not in ADJUDICATED:
            continue
        secondary = session.scalar(
            _live(primary.billable_event_id, SECONDARY)
            .order_by(Claim.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        if secondary is None or carries_answer(session, secondary, primary):
            continue
        try:
            _follow(session, secondary)
        except InputRejected as refused:  # by code, never PHI: the biller corrects it by hand
            log.info("secondary claim %s left as it was (%s)", secondary.id, refused.problems[0].code)


def _follow(session: Session, secondary: Claim) -> None:
    nothing_owed = "nothing_owed"
    if secondary.status == ClaimStatus.READY:
        body: Any = secondary.document.get("claim") or secondary.document["institutional"]
        try:
            before = authorization_uses(secondary)
            secondary.document, secondary.total_charge, secondary.primary_claim_id = rebuilt_secondary(
                session, secondary, secondary.claim_number, secondary.frequency, body["original_claim_ref"]
            )
            _reuse(session, secondary, before)
            secondary.updated_at = utcnow()
        except InputRejected as refused:
            if refused.problems[0].code != nothing_owed:
                raise
            _withdraw(session, secondary)
    elif secondary.payer_claim_number:
        try:
            replace_claim(session, secondary.id)
        except InputRejected as refused:
            if refused.problems[0].code != nothing_owed:
                raise
            void_claim(session, secondary.id)
    else:
        raise InputRejected(
            [FieldProblem("claimId", "not_adjudicated", "the secondary payer has not numbered it yet")]
        )
