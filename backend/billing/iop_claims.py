"""IOP/PHP weeks on institutional claims: one 837I claim per member and week (worker job).

Intensive outpatient and partial hospitalization are billed by the week on the UB-04 (837I): the
closed sessions' billable events of a program's Monday-Sunday week, for members the decisions
billed, become one claim per member with a line per service date (revenue code + HCPCS, e.g.
0905 + S9480), the statement period, the level's condition codes (92 for Medicare IOP), and a
warning when the member's documented hours fall under the payer's weekly minimum. A week whose
days used two authorizations (one ran out, a renewal took over) is one claim per authorization.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from backend.billing.claim_builder import claim_number, provider_of, subscriber_of
from backend.billing.claims import InstitutionalClaim, ServiceLine
from backend.billing.documents import institutional_document, institutional_from_document
from backend.billing.iop import (
    MemberWeek,
    ServiceMinutes,
    institutional_lines,
    iop_week_warnings,
    week_of,
    weekly_service_hours,
)
from backend.billing.models import BillingDecision, Claim, ClaimFormat, ClaimStatus
from backend.billing.part2_payment import with_part2
from backend.billing.payer_rules import LevelOfCare
from backend.billing.providers import FacilityType, type_of_bill
from backend.billing.session_facts import SessionBilling, load
from backend.billing.setup_store import default_provider
from backend.clients.models import Authorization
from backend.clients.store import give_back_uses
from backend.compliance.disclosures.rules import SHORT_NOTICE
from backend.database import utcnow
from backend.documentation.models import BillableEvent
from backend.enrollment.models import Enrollment, SessionAttendee
from backend.programs.models import Program
from backend.scheduling.models import GroupSession
from backend.workers.outbox import Payload, handler

IOP_WEEK = "billing.iop_week"
STILL_A_PATIENT = "30"


@handler(IOP_WEEK)
def on_iop_week(session: Session, payload: Payload) -> None:
    build_iop_week(
        session, uuid.UUID(str(payload["program_id"])), date.fromordinal(int(str(payload["week_of"])))
    )


def build_iop_week(session: Session, program_id: uuid.UUID, week_of: date) -> list[Claim]:
    """One institutional claim per billed member of the program's week starting `week_of` (a Monday);
    consumes the week's billable events, so running it again makes nothing new."""
    program = session.get_one(Program, program_id)
    level = LevelOfCare(program.level_of_care.value)
    events = list(
        session.scalars(
            select(BillableEvent)
            .where(
                BillableEvent.program_id == program_id,
                BillableEvent.service_date >= week_of,
                BillableEvent.service_date <= week_of + timedelta(days=6),
                BillableEvent.consumed_at.is_(None),
            )
            .order_by(BillableEvent.service_date)
            .with_for_update(skip_locked=True)
        )
    )
    billed = {
        (d.session_id, d.client_id)
        for d in session.scalars(
            select(BillingDecision).where(
                BillingDecision.session_id.in_({e.session_id for e in events}), BillingDecision.billed
            )
        )
    }
    by_member: dict[uuid.UUID, list[BillableEvent]] = defaultdict(list)
    for event in events:
        if (event.session_id, event.client_id) in billed:
            by_member[event.client_id].append(event)
    claims = []
    for client_id, member_events in by_member.items():
        # The member's coverage, payer rules, diagnoses and rendering as of their last session that week.
        billing = load(session, member_events[-1].session_id)
        assert billing is not None
        for days in _by_authorization(member_events):
            claim = _week_claim(session, billing, client_id, days, member_events, level, week_of)
            if claim is not None:
                claims.append(claim)
    if events:
        session.execute(
            update(BillableEvent)
            .where(BillableEvent.id.in_([e.id for e in events]))
            .values(consumed_at=utcnow())
        )
    session.flush()
    return claims


def _by_authorization(events: list[BillableEvent]) -> list[list[BillableEvent]]:
    """A member's billed days of a week, one group per authorization they used, in date order: an
    837I names one prior authorization (2300 REF*G1), so a week whose authorization ran out and
    another took over is two claims. A day's sessions stay together, under the day's authorization."""
    day_authorization: dict[date, uuid.UUID | None] = {}
    for event in events:
        day_authorization[event.service_date] = (
            day_authorization.get(event.service_date) or event.authorization_id
        )
    groups: dict[uuid.UUID | None, list[BillableEvent]] = {}
    for event in events:
        groups.setdefault(day_authorization[event.service_date], []).append(event)
    return list(groups.values())


def _week_claim(
    session: Session,
    billing: SessionBilling,
    client_id: uuid.UUID,
    events: list[BillableEvent],
    week_events: list[BillableEvent],
    level: LevelOfCare,
    week_of: date,
) -> Claim | None:
    used = next((e.authorization_id for e in events if e.authorization_id is not None), None)
    auth = session.get(Authorization, used) if used else None
    week = _week_document(session, billing, client_id, events, level, week_of, auth, week_events=week_events)
    if week is None:
        return None
    row = Claim(
        id=uuid.uuid4(),
        billable_event_id=events[0].id,
        session_id=events[-1].session_id,
        client_id=client_id,
        payer_id=week.payer_id,
        authorization_id=week.authorization.id if week.authorization else None,
        claim_number=week.claim.claim_id,
        claim_format=ClaimFormat.INSTITUTIONAL,
        frequency="1",
        status=ClaimStatus.READY,
        service_date=week.claim.statement_from,
        total_charge=week.claim.total_charge,
        document=week.document,
    )
    session.add(row)
    return row


def _facility(session: Session) -> FacilityType:
    """The facility on the type of bill: the billing provider's (the one its batch will name); a clinic
    that has none yet gets hospital outpatient, and its batch waits for a provider anyway."""
    provider = default_provider(session)
    return provider.facility_type if provider else FacilityType.HOSPITAL_OUTPATIENT


@dataclass(frozen=True)
class WeekClaim:
    """A member's week as an 837I claim, with the days (billable events) it bills."""

    claim: InstitutionalClaim
    document: dict[str, object]
    payer_id: uuid.UUID
    authorization: Authorization | None
    events: list[BillableEvent]


def _week_document(
    session: Session,
    billing: SessionBilling,
    client_id: uuid.UUID,
    events: list[BillableEvent],
    level: LevelOfCare,
    monday: date,
    auth: Authorization | None,
    frequency: str = "1",
    original_ref: str | None = None,
    number: str | None = None,
    week_events: list[BillableEvent] | None = None,
) -> WeekClaim | None:
    """The claim for the member's `events` of the week; the weekly-hours warning counts all their
    billed days of the week (`week_events`, when the week is split across authorizations)."""
    coverage = billing.coverages.get(client_id)
    payer = billing.payers.get(str(coverage.payer_id)) if coverage and coverage.payer_id else None
    rules = billing.rules.get(str(payer.id)) if payer else None
    rendering = billing.rendering
    if coverage is None or payer is None or rules is None or rendering is None or not rendering.npi:
        return None

    def hours(days: list[BillableEvent]) -> MemberWeek:
        (week,) = weekly_service_hours(
            [ServiceMinutes(str(client_id), e.service_date, e.minutes_attended) for e in days], weeks=[monday]
        )
        return week

    priced = institutional_lines(hours(events), level, rules)
    if priced.problems or not priced.lines:
        return None
    warnings = [w.message for w in iop_week_warnings([hours(week_events or events)], level, rules)]
    admitted = (
        session.scalar(select(Enrollment.starts_on).where(Enrollment.id == events[0].enrollment_id))
        if events[0].enrollment_id
        else None
    )
    claim = InstitutionalClaim(
        claim_id=number or claim_number(),
        frequency=frequency,
        original_claim_ref=original_ref,
        type_of_bill=type_of_bill(_facility(session), frequency),
        statement_from=priced.lines[0].service_date,
        statement_to=priced.lines[-1].service_date,
        admission_date=admitted or priced.lines[0].service_date,
        patient_status=STILL_A_PATIENT,
        condition_codes=priced.condition_codes,
        diagnoses=billing.diagnoses[client_id][:12],
        prior_auth=auth.reference if auth else None,
        notice=SHORT_NOTICE if client_id in billing.part2 else None,  # 42 CFR 2.32
        attending=provider_of(rendering),
        lines=tuple(
            ServiceLine(
                service_date=line.service_date,
                procedure=line.hcpcs,
                modifiers=(),
                charge=line.charge,
                units=line.units,
                revenue_code=line.revenue_code,
            )
            for line in priced.lines
        ),
    )
    document = with_part2(
        institutional_document(subscriber_of(billing, client_id), claim, warnings),
        billing.part2.get(client_id),
    )
    return WeekClaim(claim, document, payer.id, auth, events)


def rebuilt_week(
    session: Session, original: Claim, frequency: str, number: str, original_ref: str | None
) -> WeekClaim | None:
    """The week of `original` (an 837I) built again from its days as they stand now: those of its
    lines decided billed whose member is still on the record (a week split across authorizations
    keeps each claim to its own days). Frequency 7 (a replacement of the payer's claim
    `original_ref`) or the original's own (an unsent claim rewritten), under the original's
    authorization; None when no day is left to bill."""
    monday = week_of(original.service_date)
    program = session.get_one(
        Program, session.scalar(select(GroupSession.program_id).where(GroupSession.id == original.session_id))
    )
    on_record = and_(
        SessionAttendee.session_id == BillableEvent.session_id,
        SessionAttendee.client_id == BillableEvent.client_id,
    )
    decided = and_(
        BillingDecision.session_id == BillableEvent.session_id,
        BillingDecision.client_id == BillableEvent.client_id,
    )
    events = list(
        session.scalars(
            select(BillableEvent)
            .join(SessionAttendee, on_record)
            .join(BillingDecision, decided)
            .where(
                BillableEvent.client_id == original.client_id,
                BillableEvent.program_id == program.id,
                BillableEvent.service_date.between(monday, monday + timedelta(days=6)),
                SessionAttendee.removed_at.is_(None),
                BillingDecision.billed,
            )
            .order_by(BillableEvent.service_date)
        )
    )
    days = claim_days(original)
    own = [e for e in events if e.service_date in days]
    if not own:
        return None
    billing = load(session, own[-1].session_id)
    assert billing is not None
    auth = session.get(Authorization, original.authorization_id) if original.authorization_id else None
    return _week_document(
        session,
        billing,
        original.client_id,
        own,
        LevelOfCare(program.level_of_care.value),
        monday,
        auth,
        frequency,
        original_ref,
        number,
        week_events=events,
    )


def claim_days(claim: Claim) -> set[date]:
    """The service dates an 837I claim's lines bill."""
    return {line.service_date for line in institutional_from_document(claim.document)[1].lines}


def give_back_days(session: Session, claim: Claim, keep: Collection[uuid.UUID] = ()) -> None:
    """The authorization days the days of `claim` (an 837I) used, returned for each of its days not
    in `keep` (a voided week returns them all; a replacement those it no longer bills)."""
    program_id = select(GroupSession.program_id).where(GroupSession.id == claim.session_id)
    marked = session.execute(
        select(BillableEvent.id, BillableEvent.authorization_id)
        .where(
            BillableEvent.client_id == claim.client_id,
            BillableEvent.program_id == program_id.scalar_subquery(),
            BillableEvent.authorization_id.is_not(None),
            BillableEvent.service_date.in_(claim_days(claim)),
            BillableEvent.id.not_in(list(keep)),
        )
        .with_for_update()
    ).all()
    if not marked:
        return
    session.execute(
        update(BillableEvent)
        .where(BillableEvent.id.in_([event_id for event_id, _ in marked]))
        .values(authorization_id=None)
    )
    for auth_id, days in Counter(a for _, a in marked if a is not None).items():
        session.execute(give_back_uses(auth_id, days))


def week_claims_of_day(
    session: Session, program_id: uuid.UUID, client_id: uuid.UUID, day: date
) -> list[Claim]:
    """The member's live 837I claims (original or replacement) of the program's week that bill `day`:
    the primary payer's and, once it answered, the secondary's; none when the day was not billed."""
    monday = week_of(day)
    claims = session.scalars(
        select(Claim)
        .join(GroupSession, GroupSession.id == Claim.session_id)
        .where(
            GroupSession.program_id == program_id,
            Claim.client_id == client_id,
            Claim.claim_format == ClaimFormat.INSTITUTIONAL,
            Claim.frequency.in_(["1", "7"]),
            Claim.status.not_in([ClaimStatus.VOIDED, ClaimStatus.REPLACED]),
            Claim.service_date.between(monday, monday + timedelta(days=6)),
        )
        .with_for_update(of=Claim)
    )
    return [claim for claim in claims if day in claim_days(claim)]
