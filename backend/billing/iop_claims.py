"""IOP/PHP weeks on institutional claims: one 837I claim per member and week (worker job).

Intensive outpatient and partial hospitalization are billed by the week on the UB-04 (837I): the
closed sessions' billable events of a program's Monday-Sunday week, for members the decisions
billed, become one claim per member with a line per service date (revenue code + HCPCS, e.g.
0905 + S9480), the statement period, the level's condition codes (92 for Medicare IOP), and a
warning when the member's documented hours fall under the payer's weekly minimum.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.billing.claim_builder import claim_number, provider_of, subscriber_of
from backend.billing.claims import InstitutionalClaim, ServiceLine
from backend.billing.documents import institutional_document
from backend.billing.iop import ServiceMinutes, institutional_lines, iop_week_warnings, weekly_service_hours
from backend.billing.models import BillingDecision, Claim, ClaimFormat, ClaimStatus
from backend.billing.part2_payment import with_part2
from backend.billing.payer_rules import LevelOfCare
from backend.billing.session_facts import SessionBilling, load
from backend.compliance.disclosures.rules import SHORT_NOTICE
from backend.database import utcnow
from backend.documentation.models import BillableEvent
from backend.enrollment.models import Enrollment
from backend.programs.models import Program
from backend.workers.outbox import Payload, handler

IOP_WEEK = "billing.iop_week"
#: UB-04 type of bill: hospital outpatient (013x), admit-through-discharge claim frequency 1.
TYPE_OF_BILL = "0131"
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
        claim = _week_claim(session, billing, client_id, member_events, level, week_of)
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


def _week_claim(
    session: Session,
    billing: SessionBilling,
    client_id: uuid.UUID,
    events: list[BillableEvent],
    level: LevelOfCare,
    week_of: date,
) -> Claim | None:
    coverage = billing.coverages.get(client_id)
    payer = billing.payers.get(str(coverage.payer_id)) if coverage and coverage.payer_id else None
    rules = billing.rules.get(str(payer.id)) if payer else None
    rendering = billing.rendering
    if coverage is None or payer is None or rules is None or rendering is None or not rendering.npi:
        return None
    (week,) = weekly_service_hours(
        [ServiceMinutes(str(client_id), e.service_date, e.minutes_attended) for e in events], weeks=[week_of]
    )
    priced = institutional_lines(week, level, rules)
    if priced.problems or not priced.lines:
        return None
    warnings = [w.message for w in iop_week_warnings([week], level, rules)]
    admitted = (
        session.scalar(select(Enrollment.starts_on).where(Enrollment.id == events[0].enrollment_id))
        if events[0].enrollment_id
        else None
    )
    diagnoses = billing.diagnoses[client_id][:12]
    auth = billing.authorizations.get(client_id)
    number = claim_number()
    claim = InstitutionalClaim(
        claim_id=number,
        frequency="1",
        original_claim_ref=None,
        type_of_bill=TYPE_OF_BILL,
        statement_from=priced.lines[0].service_date,
        statement_to=priced.lines[-1].service_date,
        admission_date=admitted or priced.lines[0].service_date,
        patient_status=STILL_A_PATIENT,
        condition_codes=priced.condition_codes,
        diagnoses=diagnoses,
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
    row = Claim(
        id=uuid.uuid4(),
        billable_event_id=events[0].id,
        session_id=events[-1].session_id,
        client_id=client_id,
        payer_id=payer.id,
        authorization_id=auth.id if auth else None,
        claim_number=number,
        claim_format=ClaimFormat.INSTITUTIONAL,
        frequency="1",
        status=ClaimStatus.READY,
        service_date=claim.statement_from,
        total_charge=sum((line.charge for line in claim.lines), Decimal("0")),
        document=with_part2(
            institutional_document(subscriber_of(billing, client_id), claim, warnings),
            billing.part2.get(client_id),
        ),
    )
    session.add(row)
    return row
