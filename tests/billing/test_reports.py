"""The weekly billing report through GraphQL over real PostgreSQL: two weeks of a program, every figure.

The program runs in New York time; week 1 is 2 March 2026 and week 2 is 9 March (daylight saving
starts on Sunday 8 March, so a Sunday 22:00 session is in week 1 locally but on Monday in UTC).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.billing.models import (
    BillingDecision,
    Claim,
    ClaimFormat,
    ClaimPayment,
    ClaimStatus,
    Payer,
    Remittance,
)
from backend.clients.models import Authorization, Client, ClientCoverage, CoveragePriority
from backend.database import Database
from backend.documentation.models import BillableEvent
from backend.enrollment.models import (
    Attendance,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    SessionAttendee,
)
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.settings import Settings
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import WaitlistEntry, WaitlistStatus
from tests.documentation.group_scenario import add_staff
from tests.support import GraphQLClient, make_account

NEW_YORK = ZoneInfo("America/New_York")
REPORT = """query($id: ID!, $from: Date!, $weeks: Int! = 4) {
  billingReport(programId: $id, fromWeek: $from, weeks: $weeks) {
    __typename
    ... on BillingReport {
      programId timezone
      waitlistDepth { waiting offered total }
      weeks {
        weekStart sessionsHeld sessionsCancelled membersBilled membersNotBilled
        membersNotBilledByReason { code members }
        revenueBilled revenueCollected
        revenueAtRisk {
          attendedUnbilledMembers usualCharge attendedUnbilled administrativeHolds
          authorizationsExpiring { authorizations members }
        }
        denialsByReason { carc count amount }
        membersAttended membersMarked attendanceRate
        facilitatorUtilization { staffId displayName groups programGroups capPerWeek utilization }
      }
    }
    ... on UserError { field code message }
    ... on InvalidInput { errors { field code } }
  }
}"""


def local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK).astimezone(UTC)


@dataclass
class Built:
    """What the fixture made, by the letters the tests use."""

    session: Session
    program_id: uuid.UUID = field(default_factory=uuid.uuid4)
    other_program_id: uuid.UUID = field(default_factory=uuid.uuid4)
    members: dict[str, uuid.UUID] = field(default_factory=dict)
    coverages: dict[str, uuid.UUID] = field(default_factory=dict)
    sessions: dict[str, uuid.UUID] = field(default_factory=dict)
    events: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    payer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    remittance_id: uuid.UUID = field(default_factory=uuid.uuid4)
    claims: int = 0

    def program(self, program_id: uuid.UUID, name: str) -> None:
        self.session.add(
            Program(
                id=program_id,
                name=name,
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
        )
        self.session.flush()

    def member(self, letter: str) -> None:
        client = Client(
            id=uuid.uuid4(), first_name=f"Zelda{letter}", last_name="Quimby", date_of_birth=date(1990, 1, 1)
        )
        self.session.add(client)
        self.session.flush()
        coverage = ClientCoverage(
            id=uuid.uuid4(),
            client_id=client.id,
            priority=CoveragePriority.PRIMARY,
            payer_name="Medicaid MCO",
            member_id=f"M-{letter}",
            payer_id=self.payer_id,
        )
        self.session.add(coverage)
        self.members[letter], self.coverages[letter] = client.id, coverage.id

    def enroll(
        self, letter: str, status: EnrollmentStatus, history: list[tuple[date, str | None, str]]
    ) -> None:
        enrollment = Enrollment(
            id=uuid.uuid4(),
            program_id=self.program_id,
            client_id=self.members[letter],
            status=status,
            starts_on=date(2026, 1, 5),
        )
        self.session.add(enrollment)
        self.session.flush()
        for effective_on, before, after in history:
            self.session.add(
                EnrollmentEvent(
                    enrollment_id=enrollment.id,
                    from_status=before,
                    to_status=after,
                    effective_on=effective_on,
                )
            )

    def group(
        self,
        name: str,
        starts_at: datetime,
        status: SessionStatus,
        facilitators: list[uuid.UUID],
        marks: dict[str, Attendance | None] | None = None,
        program_id: uuid.UUID | None = None,
    ) -> None:
        sid = uuid.uuid4()
        self.session.add(
            GroupSession(
                id=sid,
                program_id=program_id or self.program_id,
                kind=SessionKind.GROUP,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=90),
                status=status,
            )
        )
        self.session.flush()
        for i, staff_id in enumerate(facilitators):
            role = FacilitatorRole.LEAD if i == 0 else FacilitatorRole.CO
            self.session.add(SessionFacilitator(session_id=sid, staff_id=staff_id, role=role))
        for letter, attendance in (marks or {}).items():
            self.session.add(
                SessionAttendee(session_id=sid, client_id=self.members[letter], attendance=attendance)
            )
            if attendance in (Attendance.PRESENT, Attendance.LATE, Attendance.LEFT_EARLY):
                self.billable(sid, name, letter, starts_at, attendance)
        self.sessions[name] = sid
        self.session.flush()

    def billable(
        self, sid: uuid.UUID, name: str, letter: str, starts_at: datetime, attendance: Attendance
    ) -> None:
        eid = uuid.uuid4()
        self.session.add(
            BillableEvent(
                id=eid,
                session_id=sid,
                client_id=self.members[letter],
                service_date=starts_at.astimezone(NEW_YORK).date(),
                attendance=attendance,
                minutes_attended=90,
                session_minutes=90,
                present_count=3,
                telehealth=False,
                cpt="90853",
            )
        )
        self.events[(name, letter)] = eid

    def decide(
        self, name: str, letter: str, charge: str | None = None, reasons: tuple[str, ...] = ()
    ) -> None:
        self.session.add(
            BillingDecision(
                session_id=self.sessions[name],
                client_id=self.members[letter],
                billed=charge is not None,
                reasons=[{"code": code, "message": "a reason"} for code in reasons],
                code="90853" if charge else None,
                units=1 if charge else None,
                charge=Decimal(charge) if charge else None,
                payer_id=self.payer_id,
            )
        )

    def claim(
        self,
        name: str,
        letter: str,
        total: str,
        status: ClaimStatus,
        frequency: str = "1",
        payment: tuple[str, str, list[tuple[str, str, str]]] | None = None,
        responsibility: str = "primary",
    ) -> uuid.UUID:
        self.claims += 1
        claim = Claim(
            id=uuid.uuid4(),
            billable_event_id=self.events[(name, letter)],
            session_id=self.sessions[name],
            client_id=self.members[letter],
            payer_id=self.payer_id,
            claim_number=f"RPT{uuid.uuid4().hex[:10]}",
            claim_format=ClaimFormat.PROFESSIONAL,
            frequency=frequency,
            responsibility=responsibility,
            status=status,
            service_date=date(2026, 3, 3),
            total_charge=Decimal(total),
            document={},
        )
        self.session.add(claim)
        self.session.flush()
        if payment is not None:
            outcome, paid, adjustments = payment
            self.session.add(
                ClaimPayment(
                    remittance_id=self.remittance_id,
                    claim_id=claim.id,
                    status_code="4" if outcome == "denied" else "1",
                    outcome=outcome,
                    charge=Decimal(total),
                    paid=Decimal(paid),
                    patient_responsibility=sum(
                        (Decimal(a) for g, _, a in adjustments if g == "PR"), Decimal("0.00")
                    ),
                    adjustments=[{"group": g, "reason": r, "amount": a} for g, r, a in adjustments],
                )
            )
        return claim.id

    def authorization(
        self, letter: str, starts: date, ends: date, authorized: int, used: int, service: str
    ) -> None:
        self.session.add(
            Authorization(
                client_id=self.members[letter],
                coverage_id=self.coverages[letter],
                reference=f"AUTH-{letter}-{starts.isoformat()}",
                service=service,
                sessions_authorized=authorized,
                sessions_used=used,
                starts_on=starts,
                ends_on=ends,
            )
        )


def build(session: Session) -> tuple[Built, dict[str, uuid.UUID]]:
    b = Built(session)
    b.program(b.program_id, "DBT skills")
    b.program(b.other_program_id, "Process group")
    session.add(
        Payer(
            id=b.payer_id,
            name="Medicaid MCO",
            payer_code=f"MCD{uuid.uuid4().hex[:6]}",
            claim_format=ClaimFormat.PROFESSIONAL,
        )
    )
    session.add(
        Remittance(
            id=b.remittance_id,
            file_name=f"{uuid.uuid4().hex}.835",
            payer_name="Medicaid MCO",
            check_number="EFT1",
            payment_date=date(2026, 4, 1),
            total_paid=Decimal("55.00"),
        )
    )
    session.flush()
    lead = add_staff(session, "Lead Clinician", None)
    co = add_staff(session, "Co Clinician", None)
    outsider = add_staff(session, "Elsewhere Clinician", None)
    session.get_one(StaffMember, co).max_groups_per_week = 2
    for letter in "ABCDEF":
        b.member(letter)
    active = [(date(2026, 1, 5), None, "active")]
    for letter in "ABCE":
        b.enroll(letter, EnrollmentStatus.ACTIVE, active)
    # D: put on administrative hold on Tuesday of week 2; F: held, created before histories were kept.
    b.enroll(
        "D",
        EnrollmentStatus.ON_HOLD_ADMINISTRATIVE,
        [*active, (date(2026, 3, 10), "active", "on_hold_administrative")],
    )
    b.enroll("F", EnrollmentStatus.ON_HOLD_ADMINISTRATIVE, [])

    a, p, late, ns, lc, ex = (
        Attendance.PRESENT,
        Attendance.PRESENT,
        Attendance.LATE,
        Attendance.NO_SHOW,
        Attendance.LATE_CANCEL,
        Attendance.EXCUSED,
    )
    # Week 1 (2-8 March): two held, one cancelled; the co-facilitator also runs another program's group.
    b.group(
        "s1",
        local(date(2026, 3, 3), 18),
        SessionStatus.COMPLETED,
        [lead, co],
        {"A": a, "B": p, "C": late, "D": ns},
    )
    b.group("s2", local(date(2026, 3, 8), 22), SessionStatus.COMPLETED, [lead], {"A": a, "B": ex})
    b.group("s3", local(date(2026, 3, 5), 18), SessionStatus.CANCELLED, [lead])
    b.group(
        "x1",
        local(date(2026, 3, 4), 12),
        SessionStatus.COMPLETED,
        [co, outsider],
        program_id=b.other_program_id,
    )
    # Week 2 (9-15 March): one held, one still scheduled (unmarked).
    b.group(
        "s4",
        local(date(2026, 3, 10), 18),
        SessionStatus.COMPLETED,
        [lead, co],
        {"A": a, "B": p, "C": ns, "D": lc, "E": p},
    )
    b.group("s5", local(date(2026, 3, 12), 18), SessionStatus.SCHEDULED, [lead], {"A": None})
    # The week after the report: must not leak into it.
    b.group("s6", local(date(2026, 3, 17), 18), SessionStatus.COMPLETED, [lead], {"A": a})

    b.decide("s1", "A", "45.00")
    b.decide("s1", "B", "60.00")
    b.decide("s1", "C", reasons=("no_active_authorization",))
    b.decide("s1", "D", reasons=("absent",))
    b.decide("s2", "A", reasons=("minutes_under_minimum", "eligibility_unknown"))
    b.decide("s2", "B", reasons=("absent",))
    b.decide("s4", "A", "45.00")
    b.decide("s4", "B", reasons=("no_active_authorization",))
    b.decide("s4", "C", reasons=("absent",))
    b.decide("s4", "D", reasons=("absent",))
    # E at s4: present, the claim engine has not decided yet (still at risk).
    b.decide("s6", "A", "45.00")

    original = b.claim("s1", "A", "45.00", ClaimStatus.REPLACED)
    replacement = b.claim(
        "s1",
        "A",
        "45.00",
        ClaimStatus.PAID,
        frequency="7",
        payment=("paid", "35.00", [("CO", "45", "5.00"), ("PR", "2", "5.00")]),
    )
    session.get_one(Claim, replacement).replaces_claim_id = original
    b.claim("s1", "B", "60.00", ClaimStatus.DENIED, payment=("denied", "0.00", [("CO", "50", "60.00")]))
    # B's secondary plan paid what the primary denied, but for 12.00 of coinsurance.
    paid_second = ("paid", "48.00", [("PR", "2", "12.00")])
    b.claim("s1", "B", "60.00", ClaimStatus.PAID, payment=paid_second, responsibility="secondary")
    b.claim(
        "s4",
        "A",
        "45.00",
        ClaimStatus.PARTIALLY_PAID,
        payment=("partially_paid", "20.00", [("CO", "45", "5.00"), ("CO", "97", "20.00")]),
    )
    b.claim("s6", "A", "45.00", ClaimStatus.SUBMITTED)

    group, iop, individual = "group_psychotherapy", "intensive_outpatient", "individual_psychotherapy"
    b.authorization("A", date(2026, 1, 1), date(2026, 12, 31), 20, 5, group)  # never at risk
    b.authorization("B", date(2026, 1, 1), date(2026, 12, 31), 10, 8, group)  # 2 left: at risk
    b.authorization("B", date(2026, 1, 1), date(2026, 3, 20), 30, 0, iop)  # ends 12 days after week 1
    b.authorization("C", date(2026, 1, 1), date(2026, 3, 25), 20, 0, group)  # at risk from week 2
    b.authorization("D", date(2026, 1, 1), date(2026, 3, 6), 20, 0, group)  # lapsed in week 1...
    b.authorization("D", date(2026, 3, 9), date(2026, 9, 30), 20, 0, group)  # ...renewed for week 2
    b.authorization("E", date(2026, 1, 1), date(2026, 3, 12), 20, 0, individual)  # not a group service

    for status in (
        WaitlistStatus.WAITING,
        WaitlistStatus.WAITING,
        WaitlistStatus.OFFERED,
        WaitlistStatus.PLACED,
    ):
        waiting = Client(
            id=uuid.uuid4(), first_name="Wanda", last_name="Waits", date_of_birth=date(1985, 5, 5)
        )
        session.add(waiting)
        session.flush()
        session.add(
            WaitlistEntry(
                program_id=b.program_id, client_id=waiting.id, status=status, added_on=date(2026, 2, 1)
            )
        )
    session.add(
        WaitlistEntry(
            program_id=b.other_program_id,
            client_id=b.members["F"],
            status=WaitlistStatus.WAITING,
            added_on=date(2026, 2, 1),
        )
    )
    return b, {"lead": lead, "co": co, "outsider": outsider}


@dataclass
class Scenario:
    clinic: Tenant
    program_id: uuid.UUID
    staff: dict[str, uuid.UUID]
    biller: str


@pytest.fixture
def scenario(database: Database, settings: Settings, make_clinic: Callable[..., Tenant]) -> Scenario:
    clinic = make_clinic()
    with tenant_session(database.engine, clinic.schema_name) as session:
        built, staff = build(session)
    biller = make_account(database, settings, clinic, ["biller"]).token
    return Scenario(clinic, built.program_id, staff, biller)


def report(graphql: GraphQLClient, s: Scenario, weeks: int = 2, start: str = "2026-03-02") -> Any:
    return graphql.data(REPORT, {"id": str(s.program_id), "from": start, "weeks": weeks}, s.biller)[
        "billingReport"
    ]


def test_sessions_held_and_cancelled_are_counted_in_the_programs_local_week(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """Week 1: 2 held (Sunday 22:00 included, though Monday in UTC) and 1 cancelled; week 2: 1 held."""
    result = report(graphql, scenario)
    assert result["__typename"] == "BillingReport" and result["timezone"] == "America/New_York"
    weeks = result["weeks"]
    assert [w["weekStart"] for w in weeks] == ["2026-03-02", "2026-03-09"]
    assert [(w["sessionsHeld"], w["sessionsCancelled"]) for w in weeks] == [(2, 1), (1, 0)]


def test_members_billed_and_not_billed_with_their_reasons(graphql: GraphQLClient, scenario: Scenario) -> None:
    """Week 1: 2 billed, 4 not (absent twice; one decision citing two reasons); week 2: 1 billed, 3 not."""
    week1, week2 = report(graphql, scenario)["weeks"]
    assert (week1["membersBilled"], week1["membersNotBilled"]) == (2, 4)
    assert week1["membersNotBilledByReason"] == [
        {"code": "absent", "members": 2},
        {"code": "eligibility_unknown", "members": 1},
        {"code": "minutes_under_minimum", "members": 1},
        {"code": "no_active_authorization", "members": 1},
    ]
    assert (week2["membersBilled"], week2["membersNotBilled"]) == (1, 3)
    assert week2["membersNotBilledByReason"] == [
        {"code": "absent", "members": 2},
        {"code": "no_active_authorization", "members": 1},
    ]


def test_revenue_billed_leaves_out_replaced_claims_and_collected_sums_the_payments(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """Week 1: 45.00 replacement + 60.00 denied = 105.00 billed (the same service billed to B's secondary
    payer is not billed again), 35.00 + the secondary's 48.00 collected; week 2: 45.00 and 20.00."""
    week1, week2 = report(graphql, scenario)["weeks"]
    assert (week1["revenueBilled"], week1["revenueCollected"]) == ("105.00", "83.00")
    assert (week2["revenueBilled"], week2["revenueCollected"]) == ("45.00", "20.00")


def test_denials_by_reason_show_the_co50_denial_and_not_the_contractual_or_patient_share(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """Week 1: CO-50 60.00 (CO-45 and PR-2 on the paid claim are no denials); week 2: CO-97 20.00."""
    week1, week2 = report(graphql, scenario)["weeks"]
    assert week1["denialsByReason"] == [{"carc": "CO-50", "count": 1, "amount": "60.00"}]
    assert week2["denialsByReason"] == [{"carc": "CO-97", "count": 1, "amount": "20.00"}]


def test_revenue_at_risk_prices_unbilled_attendance_and_counts_expiring_authorizations_and_holds(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """Week 1: 2 unbilled x 52.50, 3 authorizations of 2 members, 1 hold; week 2: 2 x 45.00, 3 of 2, 2."""
    week1, week2 = report(graphql, scenario)["weeks"]
    assert week1["revenueAtRisk"] == {
        "attendedUnbilledMembers": 2,
        "usualCharge": "52.50",
        "attendedUnbilled": "105.00",
        "administrativeHolds": 1,
        "authorizationsExpiring": {"authorizations": 3, "members": 2},
    }
    assert week2["revenueAtRisk"] == {
        "attendedUnbilledMembers": 2,
        "usualCharge": "45.00",
        "attendedUnbilled": "90.00",
        "administrativeHolds": 2,
        "authorizationsExpiring": {"authorizations": 3, "members": 2},
    }


def test_attendance_rate_is_attended_over_marked(graphql: GraphQLClient, scenario: Scenario) -> None:
    """Week 1: 4 attended of 6 marked (an excused absence is marked); week 2: 3 of 5 (unmarked left out)."""
    week1, week2 = report(graphql, scenario)["weeks"]
    assert (week1["membersAttended"], week1["membersMarked"], week1["attendanceRate"]) == (4, 6, 0.6667)
    assert (week2["membersAttended"], week2["membersMarked"], week2["attendanceRate"]) == (3, 5, 0.6)


def test_facilitator_utilization_counts_every_programs_groups_against_the_cap(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """The cap-2 co-facilitator with another program's group is at 1.0; the lead at 2 of the clinic's 12."""
    week1, week2 = report(graphql, scenario)["weeks"]
    lead, co = str(scenario.staff["lead"]), str(scenario.staff["co"])
    assert week1["facilitatorUtilization"] == [
        {
            "staffId": co,
            "displayName": "Co Clinician",
            "groups": 2,
            "programGroups": 1,
            "capPerWeek": 2,
            "utilization": 1.0,
        },
        {
            "staffId": lead,
            "displayName": "Lead Clinician",
            "groups": 2,
            "programGroups": 2,
            "capPerWeek": 12,
            "utilization": 0.1667,
        },
    ]
    assert [(f["staffId"], f["groups"], f["utilization"]) for f in week2["facilitatorUtilization"]] == [
        (co, 1, 0.5),
        (lead, 2, 0.1667),
    ]


def test_waitlist_depth_is_todays_waiting_and_offered_entries(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """2 waiting and 1 offered in this program; the placed entry and the other program's are left out."""
    assert report(graphql, scenario)["waitlistDepth"] == {"waiting": 2, "offered": 1, "total": 3}


def test_the_report_names_no_member(graphql: GraphQLClient, scenario: Scenario) -> None:
    """Counts and money only: no member's name or id appears anywhere in the answer."""
    text = json.dumps(report(graphql, scenario, weeks=4))
    assert "Zelda" not in text and "Quimby" not in text and "Wanda" not in text


def test_a_week_with_nothing_in_it_reports_zeros(graphql: GraphQLClient, scenario: Scenario) -> None:
    """A week before the program's sessions: no sessions, 0.00 revenue, no rate rather than 0."""
    (week,) = report(graphql, scenario, weeks=1, start="2026-02-23")["weeks"]
    assert (week["sessionsHeld"], week["revenueBilled"], week["revenueCollected"]) == (0, "0.00", "0.00")
    assert (
        week["attendanceRate"] is None
        and week["denialsByReason"] == []
        and week["facilitatorUtilization"] == []
    )


def test_a_biller_reads_the_report_and_a_clinician_may_not(
    graphql: GraphQLClient, database: Database, settings: Settings, scenario: Scenario
) -> None:
    """The clinician's request is refused with FORBIDDEN; the biller's answers."""
    clinician = make_account(database, settings, scenario.clinic, ["clinician"]).token
    body = graphql.execute(REPORT, {"id": str(scenario.program_id), "from": "2026-03-02"}, clinician)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not body.get("data")
    assert report(graphql, scenario)["__typename"] == "BillingReport"


def test_a_bad_period_or_an_unknown_program_is_a_typed_error(
    graphql: GraphQLClient, scenario: Scenario
) -> None:
    """A Tuesday start and 40 weeks are named together; an unknown program is NotFound."""
    bad = report(graphql, scenario, weeks=40, start="2026-03-03")
    assert bad["__typename"] == "InvalidInput"
    assert bad["errors"] == [
        {"field": "fromWeek", "code": "not_monday"},
        {"field": "weeks", "code": "out_of_range"},
    ]
    missing = graphql.data(REPORT, {"id": str(uuid.uuid4()), "from": "2026-03-02"}, scenario.biller)[
        "billingReport"
    ]
    assert (missing["__typename"], missing["field"]) == ("NotFound", "programId")


@pytest.fixture
def statements(app_database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app_database.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_the_number_of_statements_does_not_grow_with_the_number_of_weeks(
    graphql: GraphQLClient, scenario: Scenario, statements: list[str]
) -> None:
    """1 week and 4 weeks (with more sessions in them) cost the same, small, number of statements."""
    report(graphql, scenario, weeks=1)
    one = len(statements)
    statements.clear()
    report(graphql, scenario, weeks=4)
    assert len(statements) == one
    assert one <= 20, statements
