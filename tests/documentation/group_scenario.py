"""The 8-member group of the session-record stress scenario, written through the ORM.

A DBT skills group that started two hours ago (90 minutes), led by a clinician with a trainee
co-facilitator whose supervisor co-signs; eight enrolled members with treatment-plan goals (four
on one payer, four on another), each named as in tests/documentation/corpus so genuine sections
from the corpus fit them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.clients.models import Client, ClientCoverage, CoveragePriority
from backend.enrollment.models import Enrollment, EnrollmentStatus, SessionAttendee
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.staff.models import BookableResource, StaffMember
from backend.tenants.routing import tenant_session
from backend.treatment.models import GoalStatus, PlanStatus, TreatmentGoal, TreatmentPlan

CORPUS = Path(__file__).parent / "corpus" / "member_sections.json"


def corpus_session(members: int = 7) -> dict[str, Any]:
    """The first corpus session with at least `members` genuinely individual sections."""
    sessions = json.loads(CORPUS.read_text())["sessions"]
    return next(s for s in sessions if len(s["members"]) >= members)


@dataclass
class Member:
    client_id: uuid.UUID
    first_name: str
    last_name: str
    goal_id: uuid.UUID
    corpus: dict[str, Any] = field(default_factory=dict)


@dataclass
class Group:
    session_id: uuid.UUID
    program_id: uuid.UUID
    staff: dict[str, uuid.UUID]
    members: list[Member]


def add_staff(
    session: Session, name: str, user_id: uuid.UUID | None, supervisor: uuid.UUID | None = None
) -> uuid.UUID:
    lane = BookableResource(kind="staff")
    session.add(lane)
    session.flush()
    staff = StaffMember(
        id=uuid.uuid4(),
        display_name=name,
        user_id=user_id,
        lane=lane.lane,
        active=True,
        supervisor_id=supervisor,
    )
    session.add(staff)
    session.flush()
    return staff.id


def make_group(engine: Engine, schema: str, users: dict[str, uuid.UUID], size: int = 8) -> Group:
    """`users`: role name -> user id for lead, trainee, supervisor (facilitating and co-signing staff)."""
    source = corpus_session(size - 1)
    people = [(m["firstName"], m["lastName"], m["content"]) for m in source["members"]]
    people = (people + [("Noor", "Haddad", {})] * size)[:size]
    now = datetime.now(UTC)
    with tenant_session(engine, schema) as session:
        supervisor = add_staff(session, "Dr. Supervisor", users["supervisor"])
        lead = add_staff(session, "Lead Clinician", users["lead"])
        trainee = add_staff(session, "Trainee Clinician", users["trainee"], supervisor=supervisor)
        program = Program(
            id=uuid.uuid4(),
            name="DBT skills",
            modality=Modality.DBT_SKILLS,
            kind=ProgramKind.OPEN,
            level_of_care=LevelOfCare.OUTPATIENT,
            capacity=12,
            therapeutic_minimum=2,
            default_cpt="90853",
            session_minutes=90,
            timezone="America/New_York",
            required_credentials=[],
            starts_on=date(2026, 1, 5),
            fit_criteria={},
        )
        session.add(program)
        starts = (now - timedelta(hours=2)).replace(second=0, microsecond=0)
        group_session = GroupSession(
            id=uuid.uuid4(),
            program_id=program.id,
            kind=SessionKind.GROUP,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            status=SessionStatus.SCHEDULED,
        )
        session.add(group_session)
        session.flush()
        session.add(SessionFacilitator(session_id=group_session.id, staff_id=lead, role=FacilitatorRole.LEAD))
        session.add(
            SessionFacilitator(session_id=group_session.id, staff_id=trainee, role=FacilitatorRole.CO)
        )
        members = []
        for i, (first, last, content) in enumerate(people):
            client = Client(id=uuid.uuid4(), first_name=first, last_name=last, date_of_birth=date(1990, 1, 1))
            session.add(client)
            session.flush()
            payer = "Aetna Behavioral" if i % 2 else "Medicaid MCO"
            session.add(
                ClientCoverage(
                    client_id=client.id,
                    priority=CoveragePriority.PRIMARY,
                    payer_name=payer,
                    member_id=f"M{i:04d}",
                )
            )
            enrollment = Enrollment(
                id=uuid.uuid4(),
                program_id=program.id,
                client_id=client.id,
                status=EnrollmentStatus.ACTIVE,
                starts_on=date(2026, 1, 5),
            )
            session.add(enrollment)
            plan = TreatmentPlan(
                id=uuid.uuid4(),
                client_id=client.id,
                modality=Modality.DBT_SKILLS.value,
                status=PlanStatus.ACTIVE,
                starts_on=date(2026, 1, 5),
            )
            session.add(plan)
            session.flush()
            goal = TreatmentGoal(
                id=uuid.uuid4(),
                plan_id=plan.id,
                description="Reduce self-harm urges acted on",
                target="Diary card: no self-harm acts for 4 consecutive weeks",
                status=GoalStatus.ACTIVE,
                position=0,
            )
            session.add(goal)
            session.add(
                SessionAttendee(session_id=group_session.id, client_id=client.id, enrollment_id=enrollment.id)
            )
            session.flush()
            members.append(Member(client.id, first, last, goal.id, content))
    staff = {"lead": lead, "trainee": trainee, "supervisor": supervisor}
    return Group(group_session.id, program.id, staff, members)


def member_content(member: Member) -> dict[str, object]:
    """A member's corpus section in the DBT template's fields, its goal progress on their own goal."""
    c = member.corpus
    goals = c.get("goals") or [{"progress": "unchanged", "note": ""}]
    progress = {"worse": "regressed"}.get(goals[0]["progress"], goals[0]["progress"])
    return {
        "participation": c["participation"],
        "response_to_interventions": c["response"],
        "goal_progress": [{"goalId": str(member.goal_id), "progress": progress, "note": goals[0]["note"]}],
        "diary_card_review": c.get("homework") or "Diary card reviewed.",
        "risk": c["risk"],
        "plan": c["plan"],
    }


GROUP_NOTE: dict[str, object] = {
    "theme": "distress_tolerance",
    "activities": "Mindfulness exercise, TIPP skills teaching with handout, paired practice, homework.",
    "interventions": "Psychoeducation, modelling, behavioural rehearsal, validation, troubleshooting.",
    "skills_taught": "TIPP (temperature, intense exercise, paced breathing, paired muscle relaxation).",
    "group_process": "Members engaged; two members offered each other practical feedback; cohesion good.",
}
