"""An IOP week: five closed sessions become one 837I claim per member, revenue code 0905 with S9480."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.billing.clearinghouse import FileDropClearinghouse
from backend.billing.engine import produce_claims
from backend.billing.iop_claims import IOP_WEEK
from backend.billing.models import Claim, ClaimFormat, Payer, PayerRuleVersion
from backend.billing.payer_rules import ClaimFormat as RulesFormat
from backend.billing.payer_rules import PayerRules, rules_as_json
from backend.billing.submission import submit_ready_claims
from backend.billing.x12.validation import pyx12_errors
from backend.clients.models import Client, ClientCoverage, ClientDiagnosis, CoveragePriority
from backend.database import Database
from backend.documentation.models import BillableEvent
from backend.enrollment.models import Attendance, Enrollment, EnrollmentStatus, SessionAttendee
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.workers.outbox import OutboxMessage, process
from tests.billing.factories import billing_provider
from tests.documentation.group_scenario import add_staff

IOP_RULES = PayerRules(claim_format=RulesFormat.INSTITUTIONAL, fee_schedule={"S9480": Decimal("150.00")})
MONDAY = date(2026, 11, 16)


def _seed(session: Session) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """An IOP program with a Monday-Friday week of 3-hour sessions; the last member attends only two days."""
    lead = add_staff(session, "Ida Lead", None)
    session.get_one(StaffMember, lead).npi = "1987654328"
    payer = Payer(
        id=uuid.uuid4(), name="Blue Plan", payer_code="BLU01", claim_format=ClaimFormat.INSTITUTIONAL
    )
    session.add(payer)
    session.add(billing_provider())
    session.flush()
    session.add(
        PayerRuleVersion(payer_id=payer.id, effective_from=date(2026, 1, 1), rules=rules_as_json(IOP_RULES))
    )
    program = Program(
        id=uuid.uuid4(),
        name="IOP",
        modality=Modality.CBT,
        kind=ProgramKind.OPEN,
        level_of_care=LevelOfCare.IOP,
        capacity=10,
        therapeutic_minimum=2,
        default_cpt="90853",
        session_minutes=180,
        timezone="UTC",
        required_credentials=[],
        starts_on=date(2026, 1, 5),
        fit_criteria={},
    )
    session.add(program)
    clients = []
    for i in range(3):
        client = Client(
            id=uuid.uuid4(),
            first_name=f"Member{i}",
            last_name="Iop",
            date_of_birth=date(1980, 1, 1),
            sex="M",
            address_line1="1 Main St",
            city="Bangor",
            state="ME",
            postal_code="04401",
        )
        session.add(client)
        session.flush()
        session.add(
            ClientCoverage(
                client_id=client.id,
                priority=CoveragePriority.PRIMARY,
                payer_name="Blue Plan",
                member_id=f"BLU{i:05d}",
                payer_id=payer.id,
            )
        )
        session.add(
            ClientDiagnosis(client_id=client.id, code="F33.2", is_primary=True, noted_on=date(2026, 1, 5))
        )
        session.add(
            Enrollment(
                id=uuid.uuid4(),
                program_id=program.id,
                client_id=client.id,
                status=EnrollmentStatus.ACTIVE,
                starts_on=date(2026, 11, 2),
            )
        )
        clients.append(client.id)
    session.flush()
    enrollments = {e.client_id: e.id for e in session.scalars(select(Enrollment))}
    sessions = []
    for day in range(5):
        starts = datetime.combine(MONDAY + timedelta(days=day), datetime.min.time(), UTC) + timedelta(hours=9)
        gs = GroupSession(
            id=uuid.uuid4(),
            program_id=program.id,
            kind=SessionKind.GROUP,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=180),
            status=SessionStatus.COMPLETED,
        )
        session.add(gs)
        session.flush()
        session.add(SessionFacilitator(session_id=gs.id, staff_id=lead, role=FacilitatorRole.LEAD))
        present = clients[:2] + ([clients[2]] if day < 2 else [])
        for cid in clients:
            here = cid in present
            session.add(
                SessionAttendee(
                    session_id=gs.id,
                    client_id=cid,
                    enrollment_id=enrollments[cid],
                    attendance=Attendance.PRESENT if here else Attendance.NO_SHOW,
                    minutes_attended=180 if here else 0,
                )
            )
            if here:
                session.add(
                    BillableEvent(
                        session_id=gs.id,
                        client_id=cid,
                        enrollment_id=enrollments[cid],
                        program_id=program.id,
                        service_date=starts.date(),
                        attendance=Attendance.PRESENT,
                        minutes_attended=180,
                        session_minutes=180,
                        present_count=len(present),
                        telehealth=False,
                        cpt="90853",
                    )
                )
        sessions.append(gs.id)
    return program.id, clients, sessions


def test_an_iop_week_makes_one_837i_per_member_with_revenue_codes_and_an_hours_warning(
    database: Database, make_clinic: Callable[..., Tenant], tmp_path: Path
) -> None:
    """5 days (15 h) for two members, 2 days (6 h, under IOP's 9) for one: three 837I claims, one warned."""
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        _, clients, sessions = _seed(session)
    for sid in sessions:
        with tenant_session(database.engine, clinic.schema_name) as session:
            produce_claims(session, sid)
    with tenant_session(database.engine, clinic.schema_name) as session:
        week_rows = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == IOP_WEEK)))
    for row in week_rows:  # closing each day queues the week; later runs find its events consumed
        with tenant_session(database.engine, clinic.schema_name) as session:
            assert process(session, row)
    with tenant_session(database.engine, clinic.schema_name) as session:
        claims = {c.client_id: c for c in session.scalars(select(Claim))}
        assert all(c.claim_format == ClaimFormat.INSTITUTIONAL for c in claims.values())
        assert len(claims) == 3
        full, part = claims[clients[0]].document, claims[clients[2]].document
        lines = full["institutional"]["lines"]
        assert [(line["revenue_code"], line["procedure"]) for line in lines] == [("0905", "S9480")] * 5
        assert full["institutional"]["statement_from"] == "2026-11-16"
        assert full["institutional"]["statement_to"] == "2026-11-20"
        assert claims[clients[0]].total_charge == Decimal("750.00") and full["warnings"] == []
        assert len(part["institutional"]["lines"]) == 2 and part["warnings"], "6 hours is under IOP's 9"
        assert all(e.consumed_at for e in session.scalars(select(BillableEvent)))
        sent = submit_ready_claims(session, FileDropClearinghouse(tmp_path / "ch"))
    assert len(sent) == 1 and sent[0].claim_count == 3
    (file,) = (tmp_path / "ch" / "outbox").glob("*.x12")
    text = file.read_text()
    assert "ST*837*" in text and "005010X223A2" in text and "SV2*0905*HC:S9480" in text
    assert pyx12_errors(text) == []
