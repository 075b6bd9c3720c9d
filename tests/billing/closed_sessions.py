"""Closed outpatient sessions with billable events, seeded through the ORM for claim-engine tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.billing.engine import SESSION_CLOSED
from backend.billing.models import ClaimFormat, Payer, PayerRuleVersion
from backend.billing.payer_rules import PayerRules, rules_as_json
from backend.clients.models import Authorization, Client, ClientCoverage, ClientDiagnosis, CoveragePriority
from backend.documentation.models import BillableEvent, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.enrollment.models import Attendance, Enrollment, EnrollmentStatus, SessionAttendee
from backend.programs.models import Modality
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.staff.models import StaffMember
from backend.workers.outbox import add_message
from tests.billing.factories import billing_provider
from tests.documentation.group_scenario import add_staff
from tests.waitlist.factories import make_program

#: One group visit a day is billed: a second session the same day is not.
RULES = PayerRules(
    fee_schedule={"90853": Decimal("60.00")}, one_group_visit_per_day=True, authorization_required=True
)
DAY = date(2026, 11, 16)
#: Morning and afternoon the same day, then the next day.
STARTS = [(0, 9), (0, 14), (1, 9)]


@dataclass(frozen=True)
class Seeded:
    closed: list[uuid.UUID]  # the sessions in the order they were closed: the afternoon first
    authorization: uuid.UUID  # member 0's
    members: list[uuid.UUID]
    payer: uuid.UUID
    program: uuid.UUID


def seed_closed_sessions(
    session: Session, rules: PayerRules = RULES, part2: bool = False, diagnosis: str = "F33.1"
) -> Seeded:
    """Three members present at three closed sessions; member 0's authorization has one session left
    (the payer requires one).

    `part2`: the program is a Part 2 (SUD) program.
    """
    lead = add_staff(session, "Lee Lead", None)
    session.get_one(StaffMember, lead).npi = "1987654328"
    payer = Payer(id=uuid.uuid4(), name="Aetna", payer_code="AET01", claim_format=ClaimFormat.PROFESSIONAL)
    session.add_all([payer, billing_provider()])
    session.flush()
    session.add(
        PayerRuleVersion(payer_id=payer.id, effective_from=date(2026, 1, 1), rules=rules_as_json(rules))
    )
    program = make_program(
        session,
        name="Process group",
        modality=Modality.PROCESS,
        capacity=10,
        therapeutic_minimum=2,
        telehealth=False,
        timezone="UTC",
        part2=part2,
    )
    members = []
    for i in range(3):
        client = Client(
            id=uuid.uuid4(),
            first_name=f"Member{i}",
            last_name="Batch",
            date_of_birth=date(1980, 1, 1),
            sex="F",
            address_line1="1 Main St",
            city="Bangor",
            state="ME",
            postal_code="04401",
        )
        session.add(client)
        session.flush()
        coverage = ClientCoverage(
            id=uuid.uuid4(),
            client_id=client.id,
            priority=CoveragePriority.PRIMARY,
            payer_name="Aetna",
            member_id=f"AET{i:05d}",
            payer_id=payer.id,
        )
        enrollment = Enrollment(
            id=uuid.uuid4(),
            program_id=program.id,
            client_id=client.id,
            status=EnrollmentStatus.ACTIVE,
            starts_on=date(2026, 11, 2),
        )
        session.add_all([coverage, enrollment])
        session.add(ClientDiagnosis(client_id=client.id, code=diagnosis, is_primary=True, noted_on=DAY))
        members.append((client.id, enrollment.id, coverage.id))
    session.flush()
    auths = [
        Authorization(
            id=uuid.uuid4(),
            client_id=client_id,
            coverage_id=coverage_id,
            reference=f"AUTH-{i}",
            sessions_authorized=5 if i == 0 else 20,
            sessions_used=4 if i == 0 else 0,
            starts_on=date(2026, 11, 1),
            ends_on=date(2026, 12, 31),
        )
        for i, (client_id, _, coverage_id) in enumerate(members)
    ]
    session.add_all(auths)
    sessions = []
    for days, hour in STARTS:
        starts = datetime.combine(DAY + timedelta(days=days), datetime.min.time(), UTC) + timedelta(
            hours=hour
        )
        gs = GroupSession(
            id=uuid.uuid4(),
            program_id=program.id,
            kind=SessionKind.GROUP,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            status=SessionStatus.COMPLETED,
        )
        session.add(gs)
        session.flush()
        session.add(
            SessionRecord(session_id=gs.id, template={}, status=RecordStatus.FINAL, finalized_at=starts)
        )
        session.add(SessionFacilitator(session_id=gs.id, staff_id=lead, role=FacilitatorRole.LEAD))
        for client_id, enrollment_id, _ in members:
            session.add(
                SessionAttendee(
                    session_id=gs.id,
                    client_id=client_id,
                    enrollment_id=enrollment_id,
                    attendance=Attendance.PRESENT,
                    minutes_attended=90,
                )
            )
            session.add(
                BillableEvent(
                    session_id=gs.id,
                    client_id=client_id,
                    enrollment_id=enrollment_id,
                    program_id=program.id,
                    service_date=starts.date(),
                    attendance=Attendance.PRESENT,
                    minutes_attended=90,
                    session_minutes=90,
                    present_count=3,
                    telehealth=False,
                    cpt="90853",
                )
            )
        sessions.append(gs.id)
    closed = [sessions[1], sessions[0], sessions[2]]
    for sid in closed:
        add_message(session, SESSION_CLOSED, {"session_id": sid})
    return Seeded(closed, auths[0].id, [m[0] for m in members], payer.id, program.id)
