"""Billing the member's secondary payer after the primary's 835 (rules: backend.billing.coordination).

- Posting an 835 bills the secondary at once when the member has a current secondary coverage linked
  to a payer (`after_remittance`).
- A biller does the same later with `billSecondary` when the coverage was entered after the 835 came
  (`bill_secondary`); `pending_secondaries` lists what waits, and why.
- A secondary claim is corrected with a replacement rebuilt from the primary's latest answer
  (`rebuilt_secondary`) or a void. When the primary payer answers again (a reversal and its
  correction), backend.billing.corrections makes the secondary claim follow (`carries_answer`); one
  whose primary payment was reversed, or whose primary claim was corrected, waits for the new
  answer (`held_for_primary`).

One original secondary claim per service (the claims' unique index). The claim is coded by the
secondary payer's rules and quotes (and uses one session of) an authorization of the secondary
coverage, required when its rules say so; a void gives the use back. A claim carrying Part 2
information goes to the secondary payer only under a consent naming that payer for payment.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Select, cast, exists, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, aliased

from backend.billing import claims as doc
from backend.billing.claim_builder import claim_number
from backend.billing.coordination import (
    ADJUDICATED,
    Coding,
    LineAnswer,
    PrimaryAdjudication,
    secondary_claim,
    secondary_problems,
    secondary_week,
    secondary_week_problems,
)
from backend.billing.decisions import authorized_service, line_coding
from backend.billing.documents import (
    claim_document,
    claim_from_document,
    institutional_document,
    institutional_from_document,
)
from backend.billing.models import (
    PRIMARY,
    SECONDARY,
    Claim,
    ClaimFormat,
    ClaimPayment,
    ClaimStatus,
    Payer,
    Remittance,
)
from backend.billing.part2_payment import Part2Payment, part2_of, payment_consent, with_part2
from backend.billing.remittance import Outcome
from backend.billing.session_facts import load, rules_on
from backend.clients.models import Authorization, ClientCoverage
from backend.clients.rules import CoveragePriority
from backend.compliance.part2.consent_store import load_consents_sync
from backend.database import utcnow
from backend.errors import FieldProblem, InputRejected

log = logging.getLogger(__name__)


def _refused(code: str, message: str) -> InputRejected:
    return InputRejected([FieldProblem("claimId", code, message)])


def _secondary_coverages(client_ids: Collection[uuid.UUID]) -> Select[ClientCoverage]:
    """The members' current secondary coverages linked to a configured payer."""
    return select(ClientCoverage).where(
        ClientCoverage.client_id.in_(list(client_ids)),
        ClientCoverage.priority == CoveragePriority.SECONDARY,
        ClientCoverage.ended_at.is_(None),
        ClientCoverage.payer_id.is_not(None),
    )


def secondary_coverage(session: Session, client_id: uuid.UUID) -> ClientCoverage | None:
    return session.scalar(_secondary_coverages([client_id]))


#: Latest answer first; a reversal and its correction posted together: the correction.
LATEST_ANSWER = (ClaimPayment.created_at.desc(), (ClaimPayment.outcome == Outcome.REVERSED).asc())


def _adjudication(session: Session, primary: Claim) -> PrimaryAdjudication:
    """The primary's latest 835 answer to the claim, dated by its remittance (payment, else receipt)."""
    found = session.execute(
        select(ClaimPayment, func.coalesce(Remittance.payment_date, cast(Remittance.received_at, Date)))
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .where(ClaimPayment.claim_id == primary.id)
        .order_by(*LATEST_ANSWER)
        .limit(1)
    ).first()
    if found is None:
        raise _refused("not_adjudicated", "the primary payer has not answered this claim")
    payment, on = found
    return PrimaryAdjudication(
        outcome=payment.outcome,
        charge=payment.charge,
        paid=payment.paid,
        adjustments=_adjustments(payment.adjustments),
        adjudicated_on=on,
        claim_adjustments=_adjustments(a for a in payment.adjustments if "line" not in a),
        lines=tuple(
            LineAnswer(
                service_date=date.fromisoformat(line["service_date"]) if line["service_date"] else None,
                procedure=line["procedure"],
                modifiers=tuple(line["modifiers"]),
                charge=Decimal(line["charge"]),
                paid=Decimal(line["paid"]),
                adjustments=_adjustments(line["adjustments"]),
            )
            for line in payment.lines
        ),
    )


def _adjustments(stored: Iterable[dict[str, str]]) -> tuple[doc.Adjustment, ...]:
    return tuple(doc.Adjustment(a["group"], a["reason"], Decimal(a["amount"])) for a in stored)


def authorization_uses(claim: Claim) -> int:
    """The uses a claim counts on the authorization it quotes: a session, or an IOP/PHP week's days
    (one line a day). A primary's IOP/PHP days are marked on the days instead (iop_claims)."""
    if claim.claim_format is ClaimFormat.INSTITUTIONAL:
        return len(institutional_from_document(claim.document)[1].lines)
    return 1


@dataclass(frozen=True)
class _Terms:
    """How the secondary payer takes the service: its coding, and the authorization quoted (and used)."""

    coding: Coding
    authorization: Authorization | None


def _terms(
    session: Session,
    primary: Claim,
    coverage: ClientCoverage,
    replacing: Claim | None = None,
    lock: bool = True,
    uses: int = 1,
) -> _Terms:
    """The secondary payer's rules in force on the date of service code the member's line; the claim
    quotes an authorization of the secondary coverage for the session's service with `uses` sessions
    (days) left (a replacement, the one its original quoted), and one is needed when the payer
    requires it. The
    authorization is locked for its use unless `lock` is false (a check that bills nothing)."""
    assert coverage.payer_id is not None
    rules = rules_on(session, coverage.payer_id, primary.service_date)
    if rules is None:
        raise _refused(
            "no_rules_in_force", f"the secondary payer has no rule set in force on {primary.service_date}"
        )
    billing = load(session, primary.session_id)
    members = billing.members if billing else []
    member = next((m for m in members if m.client_key == str(primary.client_id)), None)
    if billing is None or member is None:
        raise _refused("not_on_roster", "the member is no longer on the session's roster")
    place, modifiers = line_coding(billing.facts, member, rules)
    if replacing is not None:
        kept = replacing.authorization_id
        return _Terms(Coding(place, modifiers), session.get(Authorization, kept) if kept else None)
    service = authorized_service(billing.facts.level_of_care, billing.facts.program_kind)
    day = primary.service_date
    usable = (
        select(Authorization)
        .where(
            Authorization.coverage_id == coverage.id,
            Authorization.service == service.value,
            Authorization.starts_on <= day,
            Authorization.ends_on >= day,
            Authorization.sessions_authorized - Authorization.sessions_used >= uses,
        )
        .order_by(Authorization.ends_on, Authorization.created_at)
        .limit(1)
    )
    authorization = session.scalar(usable.with_for_update() if lock else usable)
    if authorization is None and rules.authorization_required:
        raise _refused(
            "no_active_authorization", "the secondary payer requires an authorization with sessions left"
        )
    return _Terms(Coding(place, modifiers), authorization)


def _document(
    session: Session,
    primary: Claim,
    adjudication: PrimaryAdjudication,
    coverage: ClientCoverage,
    terms: _Terms,
    number: str,
    now: datetime,
) -> dict[str, object]:
    """The secondary claim's stored document for `primary`, or InputRejected naming why not."""
    claim: doc.Claim
    if primary.claim_format is ClaimFormat.INSTITUTIONAL:
        subscriber, claim = institutional_from_document(primary.document)
        problems = secondary_week_problems(claim, adjudication)
    else:
        subscriber, claim = claim_from_document(primary.document)
        problems = secondary_problems(claim, adjudication)
    if problems:
        raise InputRejected(problems)
    primary_payer = session.get_one(Payer, primary.payer_id)
    assert coverage.payer_id is not None
    part2 = part2_of(primary.document)
    if part2 is not None:
        consent = payment_consent(
            load_consents_sync(session, [primary.client_id]), coverage.payer_id, part2.categories, now
        )
        if consent is None:
            raise _refused(
                "no_part2_consent", "no consent lets the secondary payer receive Part 2 information"
            )
        part2 = Part2Payment(part2.categories, consent.id)
    secondary_subscriber = replace(
        subscriber, member_id=coverage.member_id, group_number=coverage.group_number
    )
    payer = doc.Payer(primary_payer.name, primary_payer.payer_code, primary_payer.filing_indicator)
    reference = terms.authorization.reference if terms.authorization else None
    if isinstance(claim, doc.InstitutionalClaim):
        week_subscriber, week = secondary_week(
            claim, subscriber, payer, secondary_subscriber, adjudication, number, reference
        )
        return with_part2(institutional_document(week_subscriber, week, []), part2)
    new_subscriber, new_claim = secondary_claim(
        claim, subscriber, payer, secondary_subscriber, adjudication, terms.coding, number, reference
    )
    return with_part2(claim_document(new_subscriber, new_claim), part2)


@dataclass(frozen=True)
class _Billable:
    """Everything a secondary claim for a primary claim is made of, all checked."""

    coverage: ClientCoverage
    authorization: Authorization | None
    number: str
    document: dict[str, object]


def _billable(session: Session, primary: Claim, lock: bool = True) -> _Billable:
    """The secondary claim `primary` allows now, or InputRejected naming why not; writes nothing."""
    now = utcnow()
    if primary.responsibility != PRIMARY:
        raise _refused("not_primary", "only a claim to the primary payer")
    adjudication = _adjudication(session, primary)
    coverage = secondary_coverage(session, primary.client_id)
    if coverage is None:
        raise _refused("no_secondary_coverage", "the member has no secondary coverage linked to a payer")
    existing = session.scalar(
        select(Claim.id).where(
            Claim.billable_event_id == primary.billable_event_id,
            Claim.responsibility == SECONDARY,
            Claim.frequency == "1",
        )
    )
    if existing is not None:
        raise _refused(
            "already_billed", "the secondary payer was billed for this service: replace that claim"
        )
    number = claim_number()
    terms = _terms(session, primary, coverage, lock=lock, uses=authorization_uses(primary))
    document = _document(session, primary, adjudication, coverage, terms, number, now)
    return _Billable(coverage, terms.authorization, number, document)


def bill_secondary(session: Session, primary: Claim) -> Claim:
    """The READY claim to the member's secondary payer for `primary` after its 835; raises
    InputRejected naming why it cannot be billed."""
    billable = _billable(session, primary)
    authorization = billable.authorization
    if authorization is not None:  # a session (an IOP/PHP week: its days), given back by its void
        authorization.sessions_used += authorization_uses(primary)
    claim = Claim(
        id=uuid.uuid4(),
        billable_event_id=primary.billable_event_id,
        session_id=primary.session_id,
        client_id=primary.client_id,
        payer_id=billable.coverage.payer_id,
        authorization_id=authorization.id if authorization else None,
        claim_number=billable.number,
        claim_format=primary.claim_format,
        frequency="1",
        responsibility=SECONDARY,
        primary_claim_id=primary.id,
        status=ClaimStatus.READY,
        service_date=primary.service_date,
        total_charge=primary.total_charge,
        document=billable.document,
    )
    session.add(claim)
    session.flush()
    return claim


def _answered_primary(session: Session, billable_event_id: uuid.UUID) -> Claim | None:
    """The primary claim for the service its payer answered last (a replaced one's successor, once
    answered)."""
    return session.scalar(
        select(Claim)
        .join(ClaimPayment, ClaimPayment.claim_id == Claim.id)
        .where(Claim.billable_event_id == billable_event_id, Claim.responsibility == PRIMARY)
        .order_by(*LATEST_ANSWER)
        .limit(1)
    )


def rebuilt_secondary(
    session: Session, secondary: Claim, number: str, frequency: str, original_ref: str | None
) -> tuple[dict[str, object], Decimal, uuid.UUID]:
    """The document and total of claim `number` (frequency 1, or 7 naming the payer's `original_ref`)
    billing the service of `secondary` again from the primary's latest answer, with the authorization
    `secondary` quoted; and the primary claim answered. InputRejected when the answer leaves nothing
    (`nothing_owed`, `not_adjudicated` after a reversal) or the secondary payer changed."""
    primary = _answered_primary(session, secondary.billable_event_id)
    if primary is None:
        raise _refused("not_adjudicated", "the primary payer has not answered this service")
    coverage = secondary_coverage(session, secondary.client_id)
    if coverage is None or coverage.payer_id != secondary.payer_id:
        raise _refused("coverage_changed", "the member's secondary payer changed: void this claim instead")
    terms = _terms(session, primary, coverage, replacing=secondary)
    document = _document(session, primary, _adjudication(session, primary), coverage, terms, number, utcnow())
    part2 = part2_of(document)
    if primary.claim_format is ClaimFormat.INSTITUTIONAL:
        subscriber, week = institutional_from_document(document)
        week = replace(
            week,
            frequency=frequency,
            original_claim_ref=original_ref,
            type_of_bill=week.type_of_bill[:-1] + frequency,
        )
        return with_part2(institutional_document(subscriber, week, []), part2), week.total_charge, primary.id
    subscriber, claim = claim_from_document(document)
    rebuilt = replace(claim, frequency=frequency, original_claim_ref=original_ref)
    return with_part2(claim_document(subscriber, rebuilt), part2), rebuilt.total_charge, primary.id


def carries_answer(session: Session, secondary: Claim, primary: Claim) -> bool:
    """Whether the secondary claim quotes the primary's latest answer (what it paid and adjusted)."""
    document = secondary.document
    other = (
        institutional_from_document(document)[1].other_payer
        if secondary.claim_format is ClaimFormat.INSTITUTIONAL
        else claim_from_document(document)[1].other_payer
    )
    try:
        answer = _adjudication(session, primary)
    except InputRejected:
        return False
    if other is None:
        return False
    quoted = [*other.claim_adjustments, *(a for line in other.lines for a in line.adjustments)]
    return (other.paid, Counter(quoted)) == (answer.paid, Counter(answer.adjustments))


def held_for_primary(session: Session, claims: Sequence[Claim]) -> set[uuid.UUID]:
    """The secondary claims among `claims` whose primary payer has no standing answer for the service:
    the newest primary claim for it (a replacement after a correction) is not answered yet, or its
    latest answer reverses the payment. They quote an answer no longer current and wait for the new
    one (which rebuilds them, backend.billing.corrections.follow_primary_answers)."""
    secondaries = [c for c in claims if c.responsibility == SECONDARY]
    if not secondaries:
        return set()
    newest = (
        select(Claim.billable_event_id, Claim.id)
        .where(
            Claim.billable_event_id.in_({c.billable_event_id for c in secondaries}),
            Claim.responsibility == PRIMARY,
            Claim.frequency.in_(["1", "7"]),
        )
        .order_by(Claim.billable_event_id, Claim.created_at.desc())
        .ext(distinct_on(Claim.billable_event_id))
        .subquery()
    )
    answer = (
        select(ClaimPayment.outcome)
        .where(ClaimPayment.claim_id == newest.c.id)
        .order_by(*LATEST_ANSWER)
        .limit(1)
        .scalar_subquery()
    )
    waiting = {
        event
        for event, outcome in session.execute(select(newest.c.billable_event_id, answer))
        if outcome is None or outcome == Outcome.REVERSED
    }
    return {c.id for c in secondaries if c.billable_event_id in waiting}


def bill_secondary_of(session: Session, claim_id: uuid.UUID) -> Claim:
    """`billSecondary`: the primary claim `claim_id` billed to the member's secondary payer now (the
    secondary coverage was entered after the 835, or a Part 2 consent recorded since)."""
    primary = session.get(Claim, claim_id, with_for_update=True)
    if primary is None:
        raise _refused("not_found", "does not name a claim in this clinic")
    return bill_secondary(session, primary)


@dataclass(frozen=True)
class PendingSecondary:
    """A primary claim answered with a balance, for a member with a current secondary coverage, not
    billed to it yet: ready (`blocked_by` None, `billSecondary` bills it) or what holds it now."""

    primary: Claim
    owed: Decimal
    blocked_by: FieldProblem | None


def pending_secondaries(session: Session, limit: int) -> list[PendingSecondary]:
    """The billers' secondary work list, oldest service first: each answered primary claim (a session,
    or an IOP/PHP week) with something unpaid whose member has a current secondary coverage (linked to
    a payer or not) and no secondary claim, with the reason `billSecondary` would refuse it today
    (checked, nothing written or locked): where an automatic secondary claim that could not be made
    lands."""
    billed = aliased(Claim)
    candidates = session.scalars(
        select(Claim)
        .where(
            Claim.responsibility == PRIMARY,
            Claim.status.in_([ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED]),
            func.coalesce(Claim.paid_amount, 0) < Claim.total_charge,
            exists().where(
                ClientCoverage.client_id == Claim.client_id,
                ClientCoverage.priority == CoveragePriority.SECONDARY,
                ClientCoverage.ended_at.is_(None),
            ),
            ~exists().where(
                billed.billable_event_id == Claim.billable_event_id,
                billed.responsibility == SECONDARY,
                billed.frequency == "1",
            ),
        )
        .order_by(Claim.service_date, Claim.created_at)
        .limit(limit)
    )
    pending = []
    for primary in candidates:
        try:
            _billable(session, primary, lock=False)
            blocked_by = None
        except InputRejected as refused:
            blocked_by = refused.problems[0]
        owed = primary.total_charge - (primary.paid_amount or Decimal(0))
        pending.append(PendingSecondary(primary, owed, blocked_by))
    return pending


def after_remittance(session: Session, posted: Sequence[tuple[Claim, str]]) -> list[Claim]:
    """Bill the secondary payer for each primary claim an 835 just adjudicated (claim, outcome) whose
    member has one (one query finds them); a reason one cannot be billed is logged by code (never
    PHI) and left for `billSecondary`."""
    last = {claim.id: (claim, outcome) for claim, outcome in posted}  # a reversal, then its correction
    adjudicated = [
        c for c, outcome in last.values() if outcome in ADJUDICATED and c.responsibility == PRIMARY
    ]
    if not adjudicated:
        return []
    covered = set(
        session.scalars(
            _secondary_coverages({c.client_id for c in adjudicated}).with_only_columns(
                ClientCoverage.client_id
            )
        )
    )
    made = []
    for primary in (c for c in adjudicated if c.client_id in covered):
        try:
            made.append(bill_secondary(session, primary))
        except InputRejected as refused:
            log.info("claim %s: no secondary claim (%s)", primary.id, refused.problems[0].code)
    return made
