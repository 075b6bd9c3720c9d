"""The claim engine: a closed session's billable events become decisions and member claims (worker job).

Runs as the outbox handler of `billing.session_closed`, which the session record writes in the
transaction that makes it final. For every roster member it stores a `BillingDecision` (billed, or
not and why); for each billed member it creates one original claim, keyed by the billable event
(a unique index), and uses one session of the member's authorization only when that claim is new.
Re-running, or a worker killed mid-way and retried, therefore never duplicates a claim or a use.
`preview` runs the same decision on a session not yet closed, writing nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.billing.authorizations import Authorization as AuthorizationFacts
from backend.billing.claims import Address, ProfessionalClaim, RenderingProvider, ServiceLine, Subscriber
from backend.billing.decisions import (
    Coverage,
    Decision,
    Eligibility,
    MemberFacts,
    ProgramKind,
    Reason,
    SessionFacts,
    decide_session,
)
from backend.billing.documents import claim_document
from backend.billing.models import (
    BillingDecision,
    Claim,
    ClaimFormat,
    ClaimStatus,
    EligibilityCheck,
    Payer,
    PayerRuleVersion,
)
from backend.billing.payer_rules import LevelOfCare, PayerRules, RuleVersion, rules_from_json, rules_in_force
from backend.billing.submission import clearinghouse_for, process_responses, submit_ready_claims
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import CoveragePriority
from backend.database import utcnow
from backend.documentation.models import BillableEvent, SessionRecord
from backend.documentation.presence import session_span
from backend.enrollment.models import Enrollment, SessionAttendee
from backend.programs.models import Modality, Program
from backend.scheduling.models import FacilitatorRole, GroupSession, SessionFacilitator
from backend.staff.models import StaffCredential, StaffMember
from backend.tenants.routing import session_schema
from backend.workers.outbox import Payload, PermanentFailure, add_message, handler

SESSION_CLOSED = "billing.session_closed"
SUBMIT_CLAIMS = "billing.submit_claims"
POLL_CLEARINGHOUSE = "billing.poll_clearinghouse"


class InvalidSessionPayload(PermanentFailure):
    """The outbox row does not name a session."""


@dataclass
class SessionBilling:
    """Everything the decision and the claims read about one session, loaded in a fixed number of queries."""

    group_session: GroupSession
    program: Program | None
    facts: SessionFacts
    members: list[MemberFacts]
    rules: dict[str, PayerRules | None]
    payers: dict[str, Payer]
    clients: dict[uuid.UUID, Client]
    coverages: dict[uuid.UUID, ClientCoverage]
    diagnoses: dict[uuid.UUID, tuple[str, ...]]
    authorizations: dict[uuid.UUID, Authorization]
    rendering: StaffMember | None

    def decide(self) -> list[Decision]:
        return decide_session(self.facts, self.members, lambda payer_id: self.rules.get(payer_id))


def load(session: Session, session_id: uuid.UUID) -> SessionBilling | None:
    gs = session.get(GroupSession, session_id)
    if gs is None:
        return None
    program = session.get(Program, gs.program_id) if gs.program_id else None
    record = session.get(SessionRecord, session_id)
    starts_at, ends_at = session_span(
        record.started_at if record else None, record.ended_at if record else None, gs.starts_at, gs.ends_at
    )
    zone_date = _service_date(session, gs, program)
    roster = list(
        session.execute(
            select(SessionAttendee, Enrollment.status)
            .outerjoin(Enrollment, Enrollment.id == SessionAttendee.enrollment_id)
            .where(SessionAttendee.session_id == session_id, SessionAttendee.removed_at.is_(None))
            .order_by(SessionAttendee.client_id)
        )
    )
    client_ids = [a.client_id for a, _ in roster]
    clients = {c.id: c for c in session.scalars(select(Client).where(Client.id.in_(client_ids)))}
    coverages = {
        c.client_id: c
        for c in session.scalars(
            select(ClientCoverage).where(
                ClientCoverage.client_id.in_(client_ids), ClientCoverage.priority == CoveragePriority.PRIMARY
            )
        )
    }
    payers = {
        str(p.id): p
        for p in session.scalars(
            select(Payer).where(Payer.id.in_([c.payer_id for c in coverages.values() if c.payer_id]))
        )
    }
    versions: dict[str, list[RuleVersion]] = {key: [] for key in payers}
    for v in session.scalars(
        select(PayerRuleVersion).where(PayerRuleVersion.payer_id.in_([p.id for p in payers.values()]))
    ):
        versions[str(v.payer_id)].append(
            RuleVersion(v.effective_from, v.effective_to, rules_from_json(v.rules))
        )
    rules = {key: rules_in_force(vs, zone_date) for key, vs in versions.items()}
    diagnoses: dict[uuid.UUID, list[str]] = {c: [] for c in client_ids}
    for d in session.scalars(
        select(ClientDiagnosis)
        .where(ClientDiagnosis.client_id.in_(client_ids), ClientDiagnosis.removed_on.is_(None))
        .order_by(ClientDiagnosis.client_id, ClientDiagnosis.is_primary.desc(), ClientDiagnosis.noted_on)
    ):
        diagnoses[d.client_id].append(d.code)
    authorizations = {
        a.client_id: a
        for a in session.scalars(
            select(Authorization)
            .where(
                Authorization.client_id.in_(client_ids),
                Authorization.starts_on <= zone_date,
                Authorization.ends_on >= zone_date,
            )
            .order_by(Authorization.ends_on.desc())
        )
    }
    latest_check = (
        select(
            EligibilityCheck.client_id,
            EligibilityCheck.status,
            func.row_number()
            .over(partition_by=EligibilityCheck.client_id, order_by=EligibilityCheck.requested_at.desc())
            .label("n"),
        )
        .where(EligibilityCheck.client_id.in_(client_ids), EligibilityCheck.status != "pending")
        .subquery()
    )
    eligibility = {
        r.client_id: r.status for r in session.execute(select(latest_check).where(latest_check.c.n == 1))
    }
    rendering = session.scalar(
        select(StaffMember)
        .join(SessionFacilitator, SessionFacilitator.staff_id == StaffMember.id)
        .where(SessionFacilitator.session_id == session_id)
        .order_by(SessionFacilitator.role == FacilitatorRole.CO)
    )
    credentials = (
        list(
            session.scalars(
                select(StaffCredential.credential).where(StaffCredential.staff_id == rendering.id)
            )
        )
        if rendering
        else []
    )
    same_day = _billed_same_day(session, session_id, client_ids, zone_date)
    facts = SessionFacts(
        session_id=str(session_id),
        service_date=zone_date,
        minutes=int((ends_at - starts_at).total_seconds() // 60),
        telehealth=gs.telehealth,
        program_kind=ProgramKind.MULTI_FAMILY
        if program and program.modality == Modality.MULTI_FAMILY
        else ProgramKind.GROUP,
        level_of_care=LevelOfCare(program.level_of_care.value) if program else LevelOfCare.OUTPATIENT,
        psychotherapy=not (program and program.modality == Modality.PSYCHOEDUCATION),
        rendering_credential=credentials[0].upper() if credentials else None,
        group_visits_same_day={str(c): n for c, n in same_day.items()},
    )
    members = []
    for attendee, status in roster:
        cid = attendee.client_id
        coverage = coverages.get(cid)
        auth = authorizations.get(cid)
        members.append(
            MemberFacts(
                client_key=str(cid),
                attendance=attendee.attendance,  # type: ignore[arg-type]  # unmarked members are not billed: absent
                minutes_attended=attendee.minutes_attended or 0,
                enrollment_status=status,
                diagnoses=tuple(diagnoses[cid]),
                coverage=Coverage(str(coverage.payer_id), coverage.member_id)
                if coverage and coverage.payer_id
                else None,
                authorization=AuthorizationFacts(
                    sessions_authorized=auth.sessions_authorized,
                    sessions_used=auth.sessions_used,
                    starts_on=auth.starts_on,
                    ends_on=auth.ends_on,
                    key=str(auth.id),
                )
                if auth
                else None,
                authorization_required=False,
                eligibility=Eligibility(eligibility.get(cid, "unknown")),
            )
        )
    return SessionBilling(
        gs,
        program,
        facts,
        members,
        rules,
        payers,
        clients,
        coverages,
        {c: tuple(d) for c, d in diagnoses.items()},
        authorizations,
        rendering,
    )


def _service_date(session: Session, gs: GroupSession, program: Program | None) -> date:
    from zoneinfo import ZoneInfo

    from backend.clinic.models import ClinicSettings

    zone = program.timezone if program else session.get_one(ClinicSettings, 1).timezone
    return gs.starts_at.astimezone(ZoneInfo(zone)).date()


def _billed_same_day(
    session: Session, session_id: uuid.UUID, client_ids: Sequence[uuid.UUID], day: date
) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(Claim.client_id, func.count())
        .where(
            Claim.client_id.in_(client_ids),
            Claim.service_date == day,
            Claim.session_id != session_id,
            Claim.frequency == "1",
            Claim.status.not_in([ClaimStatus.VOIDED, ClaimStatus.REPLACED]),
        )
        .group_by(Claim.client_id)
    )
    return {cid: int(n) for cid, n in rows}


@handler(SESSION_CLOSED)
def on_session_closed(session: Session, payload: Payload) -> None:
    try:
        session_id = uuid.UUID(str(payload["session_id"]))
    except (KeyError, ValueError):
        raise InvalidSessionPayload("session_id missing or invalid") from None
    if any(d.billed for d in produce_claims(session, session_id)):
        add_message(session, SUBMIT_CLAIMS, {})


@handler(SUBMIT_CLAIMS)
def on_submit_claims(session: Session, payload: Payload) -> None:
    """Send the clinic's READY claims (one 837 batch per payer)."""
    submit_ready_claims(session, clearinghouse_for(session_schema(session)))


@handler(POLL_CLEARINGHOUSE)
def on_poll_clearinghouse(session: Session, payload: Payload) -> None:
    """Apply the clinic's waiting clearinghouse responses (999, 277CA, 835, 271)."""
    process_responses(session, clearinghouse_for(session_schema(session)))


def produce_claims(session: Session, session_id: uuid.UUID) -> list[Decision]:
    """Decide every roster member, create the billed members' claims once, consume the session's events."""
    billing = load(session, session_id)
    if billing is None:
        return []
    decisions = [_claimable(billing, d) for d in billing.decide()]
    events = {
        e.client_id: e
        for e in session.scalars(select(BillableEvent).where(BillableEvent.session_id == session_id))
    }
    now = utcnow()
    for decision in decisions:
        client_id = uuid.UUID(decision.client_key)
        values = {
            "billed": decision.billed,
            "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons],
            "code": decision.code,
            "modifiers": list(decision.modifiers),
            "place_of_service": decision.place_of_service,
            "units": decision.units,
            "charge": decision.charge,
            "payer_id": uuid.UUID(decision.payer_id) if decision.payer_id else None,
            "decided_at": now,
        }
        session.execute(
            insert(BillingDecision)
            .values(id=uuid.uuid4(), session_id=session_id, client_id=client_id, **values)
            .on_conflict_do_update(index_elements=["session_id", "client_id"], set_=values)
        )
        event = events.get(client_id)
        if decision.billed and event is not None:
            _claim(session, billing, decision, event)
    session.execute(
        update(BillableEvent)
        .where(BillableEvent.session_id == session_id, BillableEvent.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    return decisions


def _claimable(billing: SessionBilling, decision: Decision) -> Decision:
    """A billed decision the claim cannot carry (no subscriber address, no rendering NPI) becomes not billed,
    with the reason, rather than a claim the clearinghouse would reject."""
    if not decision.billed:
        return decision
    client = billing.clients[uuid.UUID(decision.client_key)]
    reasons = []
    if not (client.address_line1 and client.city and client.state and client.postal_code):
        reasons.append(Reason("no_subscriber_address", "the member's address is incomplete"))
    if billing.rendering is None or not billing.rendering.npi:
        reasons.append(Reason("no_rendering_npi", "the facilitator has no NPI"))
    if not reasons:
        return decision
    return Decision(decision.client_key, False, tuple(reasons), payer_id=decision.payer_id)


def claim_number() -> str:
    """CLM01: 20 characters at most, unique, no PHI (a random base-32 id)."""
    return "E" + uuid.uuid4().hex[:19].upper()


def _claim(session: Session, billing: SessionBilling, decision: Decision, event: BillableEvent) -> None:
    client_id = uuid.UUID(decision.client_key)
    client = billing.clients[client_id]
    coverage = billing.coverages[client_id]
    payer = billing.payers[str(decision.payer_id)]
    auth = billing.authorizations.get(client_id)
    rendering = billing.rendering
    assert rendering is not None  # _claimable
    subscriber = Subscriber(
        member_id=coverage.member_id,
        last_name=client.last_name,
        first_name=client.first_name,
        birth_date=client.date_of_birth,
        sex=client.sex or "U",
        address=Address(
            line1=client.address_line1 or "",
            city=client.city or "",
            state=client.state or "",
            zip=client.postal_code or "",
        ),
        group_number=coverage.group_number,
    )
    diagnoses = billing.diagnoses[client_id][:12]
    claim = ProfessionalClaim(
        claim_id=claim_number(),
        frequency="1",
        original_claim_ref=None,
        place_of_service=decision.place_of_service or "11",
        diagnoses=diagnoses,
        prior_auth=auth.reference if auth else None,
        rendering=RenderingProvider(
            last_name=rendering.display_name.split()[-1],
            first_name=rendering.display_name.split()[0],
            npi=rendering.npi or "",
            taxonomy=rendering.taxonomy,
        ),
        lines=(
            ServiceLine(
                service_date=billing.facts.service_date,
                procedure=decision.code or "",
                modifiers=decision.modifiers,
                charge=decision.charge or 0,  # type: ignore[arg-type]
                units=decision.units or 1,
                diagnosis_pointers=tuple(range(1, min(len(diagnoses), 4) + 1)),
                place_of_service=decision.place_of_service,
            ),
        ),
    )
    inserted = session.execute(
        insert(Claim)
        .values(
            id=uuid.uuid4(),
            billable_event_id=event.id,
            session_id=event.session_id,
            client_id=client_id,
            payer_id=payer.id,
            authorization_id=auth.id if auth else None,
            claim_number=claim.claim_id,
            claim_format=ClaimFormat.PROFESSIONAL,
            frequency="1",
            status=ClaimStatus.READY,
            service_date=billing.facts.service_date,
            total_charge=claim.total_charge,
            document=claim_document(subscriber, claim),
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=["billable_event_id"], index_where=Claim.frequency == literal_column("'1'")
        )
        .returning(Claim.id)
    ).scalar_one_or_none()
    if inserted is not None and auth is not None:
        # One use per new claim, in the claim's transaction: a retried job finds the claim and skips this.
        session.execute(
            update(Authorization)
            .where(Authorization.id == auth.id)
            .values(sessions_used=Authorization.sessions_used + 1)
        )
