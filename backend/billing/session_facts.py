"""What the claim engine reads about one session, loaded in a fixed number of queries (sync session).

Turns the clinic's rows (roster, enrollments, coverages, payers and their rule versions, diagnoses,
authorizations, eligibility, the rendering facilitator) into the pure decision inputs of
backend.billing.decisions, and keeps the rows the claim builder needs next to them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.billing.authorizations import Authorization as AuthorizationFacts
from backend.billing.decisions import (
    Coverage,
    Decision,
    Eligibility,
    MemberFacts,
    ProgramKind,
    SessionFacts,
    decide_session,
)
from backend.billing.models import Claim, ClaimStatus, EligibilityCheck, Payer, PayerRuleVersion
from backend.billing.payer_rules import LevelOfCare, PayerRules, RuleVersion, rules_from_json, rules_in_force
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis
from backend.clients.rules import CoveragePriority
from backend.clinic.models import ClinicSettings
from backend.documentation.models import SessionRecord
from backend.documentation.presence import session_span
from backend.enrollment.models import Enrollment, SessionAttendee
from backend.programs.models import Modality, Program
from backend.scheduling.models import FacilitatorRole, GroupSession, SessionFacilitator
from backend.staff.models import StaffCredential, StaffMember


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
