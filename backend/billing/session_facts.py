"""What the claim engine reads about one session, loaded in a fixed number of queries (sync session).

Turns the clinic's rows (roster, enrollments, coverages, payers and their rule versions, diagnoses,
authorizations, eligibility, the rendering facilitator) into the pure decision inputs of
backend.billing.decisions, and keeps the rows the claim builder needs next to them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend.billing.authorizations import Authorization as AuthorizationFacts
from backend.billing.authorizations import AuthorizedService
from backend.billing.decisions import (
    Coverage,
    Decision,
    Eligibility,
    MemberFacts,
    ProgramKind,
    SessionFacts,
    authorized_service,
    decide_session,
)
from backend.billing.models import PRIMARY, Claim, ClaimStatus, EligibilityCheck, Payer, PayerRuleVersion
from backend.billing.part2_payment import Part2Payment, part2_payment
from backend.billing.payer_rules import LevelOfCare, PayerRules, RuleVersion, rules_in_force
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis, current_primary
from backend.clinic.models import ClinicSettings
from backend.compliance.part2.access import member_part2_programs_sync
from backend.compliance.part2.consent_store import load_consents_sync
from backend.compliance.part2.consents import ConsentTerms
from backend.database import utcnow
from backend.documentation.models import SessionRecord
from backend.documentation.presence import session_span
from backend.enrollment.models import Enrollment, SessionAttendee
from backend.enrollment.rules import EnrollmentStatus
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
    #: Members whose claim would carry Part 2 information, with the consent for payment if any.
    part2: dict[uuid.UUID, Part2Payment] = field(default_factory=dict)

    def decide(self) -> list[Decision]:
        return decide_session(self.facts, self.members, lambda payer_id: self.rules.get(payer_id))


def among(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY(:values)`: one array parameter however many values, so the statement's text is
    the same for 1 or 40 sessions (cached once) and psycopg does not parse hundreds of placeholders."""
    return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), type_=ARRAY(column.type))))


def rules_on(session: Session, payer_id: uuid.UUID, day: date) -> PayerRules | None:
    """The payer's rules in force on `day` (None: no version in force)."""
    rows = session.scalars(select(PayerRuleVersion).where(PayerRuleVersion.payer_id == payer_id))
    return rules_in_force([v.version() for v in rows], day)


def load(session: Session, session_id: uuid.UUID) -> SessionBilling | None:
    found = load_many(session, [session_id])
    return found[0] if found else None


def load_many(session: Session, session_ids: Sequence[uuid.UUID]) -> list[SessionBilling]:
    """The sessions' billing facts in order of their start, in the same 15 to 17 queries for 1 or 40 sessions.

    Facts that one session's claims change for a later one (authorization uses, same-day visits)
    are as stored: `produce_claims_many` carries the batch's own effects forward.
    """
    sessions = list(
        session.scalars(
            select(GroupSession)
            .where(among(GroupSession.id, session_ids))
            .order_by(GroupSession.starts_at, GroupSession.id)
        )
    )
    if not sessions:
        return []
    ids = [gs.id for gs in sessions]
    program_ids = {gs.program_id for gs in sessions if gs.program_id}
    programs = {p.id: p for p in session.scalars(select(Program).where(among(Program.id, program_ids)))}
    records = {
        r.session_id: r
        for r in session.scalars(select(SessionRecord).where(among(SessionRecord.session_id, ids)))
    }
    clinic_zone = (
        session.get_one(ClinicSettings, 1).timezone
        if any(gs.program_id is None for gs in sessions)
        else "UTC"
    )
    dates = {
        gs.id: gs.starts_at.astimezone(
            ZoneInfo(programs[gs.program_id].timezone if gs.program_id else clinic_zone)
        ).date()
        for gs in sessions
    }
    rosters: dict[uuid.UUID, list[tuple[SessionAttendee, EnrollmentStatus | None]]] = {i: [] for i in ids}
    for attendee, status in session.execute(
        select(SessionAttendee, Enrollment.status)
        .outerjoin(Enrollment, Enrollment.id == SessionAttendee.enrollment_id)
        .where(among(SessionAttendee.session_id, ids), SessionAttendee.removed_at.is_(None))
        .order_by(SessionAttendee.session_id, SessionAttendee.client_id)
    ):
        rosters[attendee.session_id].append((attendee, status))
    client_ids = sorted({a.client_id for roster in rosters.values() for a, _ in roster})
    clients = {c.id: c for c in session.scalars(select(Client).where(among(Client.id, client_ids)))}
    coverages = {
        c.client_id: c
        for c in session.scalars(
            select(ClientCoverage).where(among(ClientCoverage.client_id, client_ids), current_primary())
        )
    }
    payers = {
        str(p.id): p
        for p in session.scalars(
            select(Payer).where(among(Payer.id, [c.payer_id for c in coverages.values() if c.payer_id]))
        )
    }
    versions: dict[str, list[RuleVersion]] = {key: [] for key in payers}
    for v in session.scalars(
        select(PayerRuleVersion).where(among(PayerRuleVersion.payer_id, [p.id for p in payers.values()]))
    ):
        versions[str(v.payer_id)].append(v.version())
    diagnoses: dict[uuid.UUID, list[str]] = {c: [] for c in client_ids}
    for d in session.scalars(
        select(ClientDiagnosis)
        .where(among(ClientDiagnosis.client_id, client_ids), ClientDiagnosis.removed_on.is_(None))
        .order_by(ClientDiagnosis.client_id, ClientDiagnosis.is_primary.desc(), ClientDiagnosis.noted_on)
    ):
        diagnoses[d.client_id].append(d.code)
    authorizations: dict[uuid.UUID, list[Authorization]] = defaultdict(list)
    for a in session.scalars(
        select(Authorization).where(
            among(Authorization.client_id, client_ids),
            Authorization.starts_on <= max(dates.values()),
            Authorization.ends_on >= min(dates.values()),
        )
    ):
        authorizations[a.client_id].append(a)
    latest_check = (
        select(
            EligibilityCheck.client_id,
            EligibilityCheck.status,
            func.row_number()
            .over(partition_by=EligibilityCheck.client_id, order_by=EligibilityCheck.requested_at.desc())
            .label("n"),
        )
        # Answers about the coverage billed only: another payer's answer says nothing about this one.
        .where(
            among(EligibilityCheck.coverage_id, [c.id for c in coverages.values()]),
            EligibilityCheck.status != "pending",
        )
        .subquery()
    )
    eligibility = {
        r.client_id: r.status for r in session.execute(select(latest_check).where(latest_check.c.n == 1))
    }
    rendering: dict[uuid.UUID, StaffMember] = {}
    for session_id, facilitator in session.execute(
        select(SessionFacilitator.session_id, StaffMember)
        .join(StaffMember, SessionFacilitator.staff_id == StaffMember.id)
        .where(among(SessionFacilitator.session_id, ids))
        .order_by(SessionFacilitator.session_id, SessionFacilitator.role == FacilitatorRole.CO)
    ):
        rendering.setdefault(session_id, facilitator)  # the lead renders; a co-facilitator only when alone
    credentials: dict[uuid.UUID, list[str]] = defaultdict(list)
    for staff_id, credential in session.execute(
        select(StaffCredential.staff_id, StaffCredential.credential).where(
            among(StaffCredential.staff_id, {s.id for s in rendering.values()})
        )
    ):
        credentials[staff_id].append(credential)
    same_day = _billed_same_day(session, client_ids, set(dates.values()))
    # An SUD diagnosis is a Part 2 record when a Part 2 program treats the member (42 CFR 2.11);
    # consents are read only when a claim could carry Part 2 information.
    treated = member_part2_programs_sync(session, client_ids)
    part2_members = set(treated) | {
        a.client_id
        for gs in sessions
        if gs.program_id and programs[gs.program_id].part2
        for a, _ in rosters[gs.id]
    }
    consents: dict[uuid.UUID, list[ConsentTerms]] = defaultdict(list)
    for consent in load_consents_sync(session, sorted(part2_members)) if part2_members else []:
        consents[consent.client_id].append(consent)
    result = []
    for gs in sessions:
        program = programs.get(gs.program_id) if gs.program_id else None
        day = dates[gs.id]
        roster_ids = [a.client_id for a, _ in rosters[gs.id]]
        service = service_of(program)
        covering = {  # the primary coverage's authorizations: a claim goes to its payer
            c: _first_to_use(found, service)
            for c in roster_ids
            if c in coverages
            and (
                found := [
                    a
                    for a in authorizations[c]
                    if a.coverage_id == coverages[c].id and a.starts_on <= day <= a.ends_on
                ]
            )
        }
        staff = rendering.get(gs.id)
        result.append(
            _session_billing(
                gs,
                program,
                records.get(gs.id),
                day,
                rosters[gs.id],
                credentials[staff.id] if staff else [],
                staff,
                {c: n for (c, d, s), n in same_day.items() if d == day and s != gs.id},
                SessionRows(
                    clients={c: clients[c] for c in roster_ids},
                    coverages={c: coverages[c] for c in roster_ids if c in coverages},
                    diagnoses={c: tuple(diagnoses[c]) for c in roster_ids},
                    authorizations=covering,
                    eligibility={c: eligibility[c] for c in roster_ids if c in eligibility},
                    consents={c: consents[c] for c in roster_ids if c in consents},
                    part2_treated={c for c in roster_ids if c in treated},
                ),
                payers,
                {key: rules_in_force(vs, day) for key, vs in versions.items()},
            )
        )
    return result


def _first_to_use(authorizations: list[Authorization], service: AuthorizedService) -> Authorization:
    """The authorization a session uses: one for the session's service with sessions left, ending
    first (another service's or an exhausted one only when nothing else covers the date, so the
    decision can say so)."""
    return min(
        authorizations,
        key=lambda a: (a.service != service, a.sessions_used >= a.sessions_authorized, a.ends_on),
    )


def service_of(program: Program | None) -> AuthorizedService:
    """The service its sessions need an authorization for."""
    return authorized_service(_level_of(program), _kind_of(program))


def _level_of(program: Program | None) -> LevelOfCare:
    return LevelOfCare(program.level_of_care.value) if program else LevelOfCare.OUTPATIENT


def _kind_of(program: Program | None) -> ProgramKind:
    return (
        ProgramKind.MULTI_FAMILY
        if program and program.modality == Modality.MULTI_FAMILY
        else ProgramKind.GROUP
    )


@dataclass(frozen=True)
class SessionRows:
    """The roster members' rows one session's billing reads."""

    clients: dict[uuid.UUID, Client]
    coverages: dict[uuid.UUID, ClientCoverage]
    diagnoses: dict[uuid.UUID, tuple[str, ...]]
    authorizations: dict[uuid.UUID, Authorization]
    eligibility: dict[uuid.UUID, str]
    consents: dict[uuid.UUID, list[ConsentTerms]]
    #: Members a Part 2 program treats: their SUD diagnoses are Part 2 records.
    part2_treated: set[uuid.UUID]


def _session_billing(
    gs: GroupSession,
    program: Program | None,
    record: SessionRecord | None,
    day: date,
    roster: list[tuple[SessionAttendee, EnrollmentStatus | None]],
    credentials: list[str],
    rendering: StaffMember | None,
    same_day: dict[uuid.UUID, int],
    rows: SessionRows,
    payers: dict[str, Payer],
    rules: dict[str, PayerRules | None],
) -> SessionBilling:
    starts_at, ends_at = session_span(
        record.started_at if record else None, record.ended_at if record else None, gs.starts_at, gs.ends_at
    )
    facts = SessionFacts(
        session_id=str(gs.id),
        service_date=day,
        minutes=int((ends_at - starts_at).total_seconds() // 60),
        telehealth=gs.telehealth,
        program_kind=_kind_of(program),
        level_of_care=_level_of(program),
        psychotherapy=not (program and program.modality == Modality.PSYCHOEDUCATION),
        rendering_credentials=tuple(sorted({c.upper() for c in credentials})),
        group_visits_same_day={str(c): n for c, n in same_day.items() if n},
    )
    members = []
    part2: dict[uuid.UUID, Part2Payment] = {}
    now = utcnow()
    for attendee, status in roster:
        cid = attendee.client_id
        coverage = rows.coverages.get(cid)
        auth = rows.authorizations.get(cid)
        payment = part2_payment(
            bool(program and program.part2),
            rows.diagnoses[cid][:12] if cid in rows.part2_treated else (),  # what the claim carries
            rows.consents.get(cid, ()),
            coverage.payer_id if coverage else None,
            now,
        )
        if payment is not None:
            part2[cid] = payment
        members.append(
            MemberFacts(
                client_key=str(cid),
                attendance=attendee.attendance,  # type: ignore[arg-type]  # unmarked members are not billed: absent
                minutes_attended=attendee.minutes_attended or 0,
                enrollment_status=status,
                diagnoses=rows.diagnoses[cid],
                coverage=Coverage(str(coverage.payer_id), coverage.member_id)
                if coverage and coverage.payer_id
                else None,
                unlinked_coverage=coverage is not None and coverage.payer_id is None,
                authorization=AuthorizationFacts(
                    sessions_authorized=auth.sessions_authorized,
                    sessions_used=auth.sessions_used,
                    starts_on=auth.starts_on,
                    ends_on=auth.ends_on,
                    service=AuthorizedService(auth.service),
                    key=str(auth.id),
                )
                if auth
                else None,
                authorization_required=bool(
                    coverage
                    and (payer_rules := rules.get(str(coverage.payer_id)))
                    and payer_rules.authorization_required
                ),
                eligibility=Eligibility(rows.eligibility.get(cid, "unknown")),
                part2_payment_consent=payment is None or payment.consent_id is not None,
            )
        )
    return SessionBilling(
        gs,
        program,
        facts,
        members,
        rules,
        payers,
        rows.clients,
        rows.coverages,
        rows.diagnoses,
        rows.authorizations,
        rendering,
        part2,
    )


def _billed_same_day(
    session: Session, client_ids: Sequence[uuid.UUID], days: set[date]
) -> dict[tuple[uuid.UUID, date, uuid.UUID], int]:
    """Live original claims per (member, service date, session) on the batch's days."""
    rows = session.execute(
        select(Claim.client_id, Claim.service_date, Claim.session_id, func.count())
        .where(
            among(Claim.client_id, client_ids),
            among(Claim.service_date, days),
            Claim.frequency == "1",
            Claim.responsibility == PRIMARY,  # a secondary claim bills the same visit again
            Claim.status.not_in([ClaimStatus.VOIDED, ClaimStatus.REPLACED]),
        )
        .group_by(Claim.client_id, Claim.service_date, Claim.session_id)
    )
    return {(cid, day, sid): int(n) for cid, day, sid, n in rows}


def with_batch_effects(
    billing: SessionBilling,
    uses: Mapping[uuid.UUID, int],
    visits: Mapping[tuple[uuid.UUID, date], int],
    own_uses: Mapping[uuid.UUID, uuid.UUID] | None = None,
) -> SessionBilling:
    """The session's facts after the claims a batch made before it: authorization uses and same-day
    group visits that are not stored yet; and before its own uses an earlier run stored (member ->
    authorization), so deciding a session again sees each authorization as it was before it."""
    own_uses = own_uses or {}
    day = billing.facts.service_date
    same_day = dict(billing.facts.group_visits_same_day)
    members = []
    for member in billing.members:
        cid = uuid.UUID(member.client_key)
        if n := visits.get((cid, day), 0):
            same_day[member.client_key] = same_day.get(member.client_key, 0) + n
        auth = member.authorization
        if auth is not None:
            key = uuid.UUID(auth.key)
            n = uses.get(key, 0) - (own_uses.get(cid) == key)
            if n:
                member = replace(member, authorization=replace(auth, sessions_used=auth.sessions_used + n))
        members.append(member)
    if same_day == billing.facts.group_visits_same_day and members == billing.members:
        return billing
    return replace(billing, facts=replace(billing.facts, group_visits_same_day=same_day), members=members)
