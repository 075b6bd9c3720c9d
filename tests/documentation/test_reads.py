"""The documentation read side through GraphQL: pre-session brief, member record, own attendance,
documentation queues, and authorizations with visit caps."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update

from backend.authorization.roles import Role
from backend.clients.authorization_rules import AuthorizationDraft, authorization_problems, expiring_soon
from backend.clients.models import Authorization, ClientCoverage
from backend.clients.rules import CoveragePriority
from backend.database import Database
from backend.documentation.models import Addendum, BillableEvent, MemberSection, RecordSignature, RiskFlag
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import RiskLevel, Scope
from backend.enrollment.models import SessionAttendee
from backend.enrollment.rules import Attendance
from backend.scheduling.models import GroupSession, SessionKind, SessionStatus
from backend.settings import Settings
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import CareTeamMember
from tests.documentation.test_privacy_matrix import (
    add_client,
    add_record,
    add_session,
    add_staff,
    client_account,
)
from tests.support import Account, GraphQLClient, make_account
from tests.waitlist.factories import make_program

P, LATE, NO = Attendance.PRESENT, Attendance.LATE, Attendance.NO_SHOW
ZONE = ZoneInfo("America/New_York")
BRIEF = """query($id: ID!) { preSessionBrief(sessionId: $id) {
  sessionId programName sessionDate
  members { clientId firstName
    recentAttendance { sessionId attendance kind }
    lastSection { sessionId content withheld }
    riskFlags { level sessionId }
    authorization { reference remaining sessionsAuthorized sessionsUsed endsOn }
    authorizationExpiringSoon
    visitCap { payerName visitCap visitsUsedThisYear } }
  lastGroupNote { sessionId content withheld } } }"""
HISTORY = """query($c: ID!, $first: Int!, $after: String) {
  memberRecord(clientId: $c, first: $first, after: $after) {
    edges { cursor node { sessionId kind programName attendance minutesAttended recordStatus
      groupNote { content withheld } section { scope content withheld } addenda { text } } }
    pageInfo { hasNextPage endCursor } } }"""
MY_ATTENDANCE = """query($first: Int!, $after: String) { myAttendance(first: $first, after: $after) {
  nodes { sessionId kind attendance } pageInfo { hasNextPage endCursor } } }"""
UNSIGNED = "query { myUnsignedSessions { sessionId programName rosterSize status } }"
COSIGN = "query { myCosignQueue { sessionId traineeName status } }"
PROBLEM = "... on UserError { field code } ... on InvalidInput { errors { field code } }"
ADD_AUTH = (
    "mutation($input: AddAuthorizationInput!) { addAuthorization(input: $input) { __typename "
    + "... on AuthorizationAdded { authorization { reference service remaining expiringSoon active "
    + "payerName } } "
    + f"{PROBLEM} }} }}"
)
AUTHS = "query($c: ID!) { authorizations(clientId: $c) { reference remaining active } }"
SET_CAP = (
    "mutation($id: ID!, $cap: Int) { setCoverageVisitCap(coverageId: $id, visitCap: $cap) { __typename "
    + f"... on VisitCapSet {{ coverage {{ visitCap visitsUsedThisYear }} }} {PROBLEM} }} }}"
)


@dataclass
class History:
    """Six weeks of a weekly DBT group (F facilitates) with M and N, an individual session of M with T."""

    clinic: Tenant
    accounts: dict[str, Account]
    staff: dict[str, uuid.UUID]
    m: uuid.UUID
    n: uuid.UUID
    weeks: dict[int, uuid.UUID]
    individual: uuid.UUID
    current: uuid.UUID
    session_date: date
    coverage: dict[str, uuid.UUID]


def build_history(database: Database, settings: Settings, clinic: Tenant) -> History:
    roles = {"F": Role.CLINICIAN, "T": Role.CLINICIAN, "U": Role.CLINICIAN, "B": Role.BILLER}
    accounts = {k: make_account(database, settings, clinic, [r.value]) for k, r in roles.items()}
    now = datetime.now(UTC).replace(microsecond=0)
    current_start = now + timedelta(days=1)
    session_date = current_start.astimezone(ZONE).date()
    marks = {6: (P, P), 5: (None, None), 4: (NO, P), 3: (LATE, P), 2: (P, P), 1: (P, NO)}
    with tenant_session(database.engine, clinic.schema_name) as session:
        staff = {k: add_staff(session, f"Staff {k}", a.user_id) for k, a in accounts.items()}
        program = make_program(session, name="Tuesday DBT skills")
        m, n = add_client(session, "Marta", "Quill"), add_client(session, "Nils", "Ostrow")
        session.add(CareTeamMember(client_id=m, staff_id=staff["T"], since=date(2026, 1, 5)))
        weeks = {
            k: add_session(
                session,
                program.id,
                current_start - timedelta(weeks=k),
                [staff["F"]],
                {m: mm, n: nm},
                status=SessionStatus.CANCELLED if k == 5 else SessionStatus.COMPLETED,
            )
            for k, (mm, nm) in marks.items()
        }
        individual = add_session(
            session, None, now - timedelta(days=10), [staff["T"]], {m: P}, kind=SessionKind.INDIVIDUAL
        )
        current = add_session(session, program.id, current_start, [staff["F"]], {m: None, n: None})
        final = {"status": RecordStatus.FINAL, "finalized_at": now - timedelta(days=6)}
        add_record(
            session,
            weeks[2],
            {"theme": "distress_tolerance"},
            {m: {"participation": "Marta week two"}, n: {"participation": "Nils week two"}},
            **final,
        )
        add_record(
            session,
            weeks[1],
            {"theme": "emotion_regulation"},
            {m: {"participation": "Marta week one"}},
            **final,
        )
        session.add(
            MemberSection(
                session_id=weeks[1], client_id=n, scope=Scope.ABSENCE, content={"outreach_attempted": True}
            )
        )
        add_record(
            session, individual, {"theme": "individual"}, {m: {"participation": "Marta one to one"}}, **final
        )
        session.add(
            Addendum(
                id=uuid.uuid4(), session_id=weeks[2], client_id=m, author_id=staff["F"], text="Late entry"
            )
        )
        session.add_all(
            [
                RiskFlag(id=uuid.uuid4(), client_id=m, session_id=weeks[1], level=RiskLevel.MODERATE),
                RiskFlag(
                    id=uuid.uuid4(),
                    client_id=n,
                    session_id=weeks[2],
                    level=RiskLevel.HIGH,
                    resolved_at=now - timedelta(days=1),
                ),
            ]
        )
        coverage = {
            "m": uuid.uuid4(),
            "m2": uuid.uuid4(),
            "n": uuid.uuid4(),
        }
        for key, client_id, priority, cap in (
            ("m", m, CoveragePriority.PRIMARY, 20),
            ("m2", m, CoveragePriority.SECONDARY, 5),
            ("n", n, CoveragePriority.PRIMARY, None),
        ):
            session.add(
                ClientCoverage(
                    id=coverage[key],
                    client_id=client_id,
                    priority=priority,
                    payer_name=f"Payer {key}",
                    member_id="X1",
                    visit_cap=cap,
                )
            )
        session.flush()
        today = now.astimezone(ZONE).date()
        for client_id, cov, authorized, used, starts, ends, ref in (
            (m, coverage["m"], 10, 8, today - timedelta(days=90), today + timedelta(days=60), "M-ACTIVE"),
            (n, coverage["n"], 12, 12, today - timedelta(days=200), today - timedelta(days=30), "N-OLD"),
            (n, coverage["n"], 20, 3, today - timedelta(days=20), today + timedelta(days=100), "N-ACTIVE"),
            # Ends first with days left, but for IOP: a DBT group session never draws on it.
            (n, coverage["n"], 30, 0, today - timedelta(days=20), today + timedelta(days=40), "N-IOP"),
        ):
            session.add(
                Authorization(
                    id=uuid.uuid4(),
                    client_id=client_id,
                    coverage_id=cov,
                    reference=ref,
                    service="intensive_outpatient" if ref == "N-IOP" else "group_psychotherapy",
                    sessions_authorized=authorized,
                    sessions_used=used,
                    starts_on=starts,
                    ends_on=ends,
                )
            )
        for week, service_date in (
            (1, session_date),
            (2, date(session_date.year, 1, 1)),
            (3, date(session_date.year - 1, 12, 31)),
        ):
            session.add(
                BillableEvent(
                    id=uuid.uuid4(),
                    session_id=weeks[week],
                    client_id=m,
                    service_date=service_date,
                    attendance=P,
                    minutes_attended=90,
                    session_minutes=90,
                    present_count=2,
                    telehealth=False,
                    cpt="90853",
                )
            )
    return History(clinic, accounts, staff, m, n, weeks, individual, current, session_date, coverage)


@pytest.fixture
def history(database: Database, settings: Settings, make_clinic: Callable[..., Tenant]) -> History:
    return build_history(database, settings, make_clinic())


def _brief(graphql: GraphQLClient, h: History, who: str) -> Any:
    return graphql.execute(BRIEF, {"id": str(h.current)}, h.accounts[who].token)


def test_the_brief_gives_each_members_last_four_sessions_last_section_flags_authorization_and_cap(
    graphql: GraphQLClient, history: History
) -> None:
    """The facilitator sees M's last 4 group sessions (cancelled skipped), last section, risk flag,
    2 sessions left (flagged), visit cap with this year's visits, and the program's last group note."""
    h = history
    brief = _brief(graphql, h, "F")["data"]["preSessionBrief"]
    assert brief["programName"] == "Tuesday DBT skills" and brief["sessionDate"] == str(h.session_date)
    members = {m["firstName"]: m for m in brief["members"]}
    marta, nils = members["Marta"], members["Nils"]
    assert [(a["sessionId"], a["attendance"]) for a in marta["recentAttendance"]] == [
        (str(h.weeks[1]), "PRESENT"),
        (str(h.weeks[2]), "PRESENT"),
        (str(h.weeks[3]), "LATE"),
        (str(h.weeks[4]), "NO_SHOW"),
    ]
    assert marta["lastSection"] == {
        "sessionId": str(h.weeks[1]),
        "content": {"participation": "Marta week one"},
        "withheld": False,
    }
    # N's week-one entry is an absence note: the last individual section is week two's.
    assert nils["lastSection"]["content"] == {"participation": "Nils week two"}
    assert marta["riskFlags"] == [{"level": "MODERATE", "sessionId": str(h.weeks[1])}]
    assert nils["riskFlags"] == []
    assert marta["authorization"]["reference"] == "M-ACTIVE" and marta["authorization"]["remaining"] == 2
    assert marta["authorizationExpiringSoon"] is True
    assert nils["authorization"]["reference"] == "N-ACTIVE" and nils["authorization"]["remaining"] == 17
    assert nils["authorizationExpiringSoon"] is False
    assert marta["visitCap"] == {"payerName": "Payer m", "visitCap": 20, "visitsUsedThisYear": 2}
    assert nils["visitCap"] == {"payerName": "Payer n", "visitCap": None, "visitsUsedThisYear": 0}
    assert brief["lastGroupNote"] == {
        "sessionId": str(h.weeks[1]),
        "content": {"theme": "emotion_regulation"},
        "withheld": False,
    }


def test_the_brief_withholds_what_a_treating_clinician_may_not_read(
    graphql: GraphQLClient, history: History
) -> None:
    """T treats M only: M's last section and individual session are shown; N's section is withheld."""
    brief = _brief(graphql, history, "T")["data"]["preSessionBrief"]
    members = {m["firstName"]: m for m in brief["members"]}
    assert members["Nils"]["lastSection"] == {
        "sessionId": str(history.weeks[2]),
        "content": None,
        "withheld": True,
    }
    assert members["Marta"]["lastSection"]["content"] == {"participation": "Marta week one"}
    assert members["Marta"]["recentAttendance"][1]["kind"] == "INDIVIDUAL"
    assert members["Nils"]["recentAttendance"] == []


def test_the_brief_is_null_without_a_relationship_and_refused_to_billing(
    graphql: GraphQLClient, history: History
) -> None:
    """An unrelated clinician gets null; a biller may not ask for a brief at all."""
    assert _brief(graphql, history, "U")["data"]["preSessionBrief"] is None
    assert _brief(graphql, history, "B")["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _history(graphql: GraphQLClient, h: History, who: str, first: int = 20, after: str | None = None) -> Any:
    variables = {"c": str(h.m), "first": first, "after": after}
    return graphql.data(HISTORY, variables, h.accounts[who].token)["memberRecord"]


def test_the_member_record_marks_group_and_individual_entries_for_the_treating_clinician(
    graphql: GraphQLClient, history: History
) -> None:
    """T sees M's group and individual sessions newest first, with M's sections and addenda about M."""
    h = history
    nodes = [e["node"] for e in _history(graphql, h, "T")["edges"]]
    assert [(n["sessionId"], n["kind"]) for n in nodes] == [
        (str(h.weeks[1]), "GROUP"),
        (str(h.individual), "INDIVIDUAL"),
        (str(h.weeks[2]), "GROUP"),
        (str(h.weeks[3]), "GROUP"),
        (str(h.weeks[4]), "GROUP"),
        (str(h.weeks[6]), "GROUP"),
    ]
    by_id = {n["sessionId"]: n for n in nodes}
    individual = by_id[str(h.individual)]
    assert individual["programName"] is None and individual["section"]["content"] == {
        "participation": "Marta one to one"
    }
    week2 = by_id[str(h.weeks[2])]
    assert week2["groupNote"] == {"content": {"theme": "distress_tolerance"}, "withheld": False}
    assert week2["section"] == {
        "scope": "MEMBER",
        "content": {"participation": "Marta week two"},
        "withheld": False,
    }
    assert week2["addenda"] == [{"text": "Late entry"}]
    assert by_id[str(h.weeks[6])]["recordStatus"] is None


def test_the_member_record_shows_billing_attendance_with_every_narrative_marked_withheld(
    graphql: GraphQLClient, history: History
) -> None:
    """A biller sees every session's attendance; group notes, sections and addenda say withheld."""
    nodes = [e["node"] for e in _history(graphql, history, "B")["edges"]]
    assert len(nodes) == 6
    assert all(n["groupNote"] == {"content": None, "withheld": True} for n in nodes)
    assert all(n["section"]["withheld"] is True and n["section"]["content"] is None for n in nodes)
    assert all(n["addenda"] == [] for n in nodes)
    assert [n["attendance"] for n in nodes][:3] == ["PRESENT", "PRESENT", "PRESENT"]


def test_the_member_record_lists_only_sessions_whose_attendance_the_viewer_may_see(
    graphql: GraphQLClient, history: History
) -> None:
    """F facilitates the group, not M's individual session: it is not listed for F at all."""
    nodes = [e["node"] for e in _history(graphql, history, "F")["edges"]]
    assert str(history.individual) not in {n["sessionId"] for n in nodes}
    assert {n["kind"] for n in nodes} == {"GROUP"}
    assert len(nodes) == 5


def test_the_member_record_pages_newest_first_without_gaps(graphql: GraphQLClient, history: History) -> None:
    """Pages of 4 then the rest give the same entries as one page, in the same order."""
    whole = [e["node"]["sessionId"] for e in _history(graphql, history, "T")["edges"]]
    page1 = _history(graphql, history, "T", first=4)
    page2 = _history(graphql, history, "T", first=4, after=page1["pageInfo"]["endCursor"])
    assert page1["pageInfo"]["hasNextPage"] is True and page2["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["sessionId"] for e in page1["edges"] + page2["edges"]] == whole


def test_my_attendance_pages_a_clients_own_sessions(
    graphql: GraphQLClient, database: Database, settings: Settings, history: History
) -> None:
    """M on mobile gets their own started sessions (the cancelled one and tomorrow's are not listed)."""
    token = client_account(database, settings, history.clinic, history.m).token
    first = graphql.data(MY_ATTENDANCE, {"first": 3}, token)["myAttendance"]
    rest = graphql.data(MY_ATTENDANCE, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token)[
        "myAttendance"
    ]
    rows = first["nodes"] + rest["nodes"]
    assert [r["sessionId"] for r in rows] == [
        str(s)
        for s in (
            history.weeks[1],
            history.individual,
            history.weeks[2],
            history.weeks[3],
            history.weeks[4],
            history.weeks[6],
        )
    ]
    assert rows[3]["attendance"] == "LATE"
    clinician = graphql.execute(MY_ATTENDANCE, {"first": 3}, history.accounts["F"].token)
    assert clinician["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_unsigned_queue_holds_started_sessions_the_facilitator_has_not_signed(
    graphql: GraphQLClient, database: Database, history: History
) -> None:
    """F owes the weeks without a final record, oldest first, including ones never opened; a signed
    session, a final one, a cancelled one and tomorrow's are not in the queue."""
    h = history
    with tenant_session(database.engine, h.clinic.schema_name) as session:
        add_record(session, h.weeks[3], {}, {})
        add_record(session, h.weeks[4], {}, {})
        session.add(
            RecordSignature(session_id=h.weeks[4], staff_id=h.staff["F"], signed_at=datetime.now(UTC))
        )
    rows = graphql.data(UNSIGNED, token=h.accounts["F"].token)["myUnsignedSessions"]
    assert [(r["sessionId"], r["status"], r["rosterSize"]) for r in rows] == [
        (str(h.weeks[6]), "DRAFT", 2),
        (str(h.weeks[3]), "DRAFT", 2),
    ]
    assert rows[0]["programName"] == "Tuesday DBT skills"
    assert graphql.data(UNSIGNED, token=h.accounts["T"].token)["myUnsignedSessions"] == []


def test_the_cosign_queue_goes_to_the_named_supervisor_or_any_supervisor(
    graphql: GraphQLClient, database: Database, settings: Settings, history: History
) -> None:
    """A trainee naming S waits for S only; a trainee naming nobody waits for every supervisor."""
    h = history
    sup = {k: make_account(database, settings, h.clinic, [Role.SUPERVISOR.value]) for k in ("S", "S2")}
    with tenant_session(database.engine, h.clinic.schema_name) as session:
        ids = {k: add_staff(session, f"Supervisor {k}", a.user_id) for k, a in sup.items()}
        named, unnamed = add_staff(session, "Trainee named"), add_staff(session, "Trainee alone")
        session.execute(update(StaffMember).where(StaffMember.id == named).values(supervisor_id=ids["S"]))
        first = add_session(
            session, None, datetime.now(UTC) - timedelta(days=3), [h.staff["F"], named], {h.m: P}
        )
        second = add_session(session, None, datetime.now(UTC) - timedelta(days=2), [unnamed], {h.n: P})
        add_record(session, first, {}, {}, status=RecordStatus.AWAITING_SIGNATURES)
        add_record(session, second, {}, {}, status=RecordStatus.AWAITING_COSIGNATURE)
        now = datetime.now(UTC)
        session.add_all(
            [
                RecordSignature(
                    session_id=first,
                    staff_id=named,
                    signed_at=now - timedelta(hours=2),
                    requires_cosign=True,
                    supervisor_id=ids["S"],
                ),
                RecordSignature(session_id=second, staff_id=unnamed, signed_at=now, requires_cosign=True),
            ]
        )
    queue_s = graphql.data(COSIGN, token=sup["S"].token)["myCosignQueue"]
    queue_s2 = graphql.data(COSIGN, token=sup["S2"].token)["myCosignQueue"]
    assert [(q["sessionId"], q["traineeName"]) for q in queue_s] == [
        (str(first), "Trainee named"),
        (str(second), "Trainee alone"),
    ]
    assert [q["sessionId"] for q in queue_s2] == [str(second)]
    assert graphql.data(COSIGN, token=h.accounts["F"].token)["myCosignQueue"] == []


def _auth_input(h: History, **overrides: Any) -> dict[str, Any]:
    values = {
        "clientId": str(h.m),
        "coverageId": str(h.coverage["m"]),
        "reference": "PA-2026-77",
        "sessionsAuthorized": 12,
        "startsOn": str(h.session_date - timedelta(days=1)),
        "endsOn": str(h.session_date + timedelta(days=90)),
    }
    return {"input": {**values, **overrides}}


def test_adding_an_authorization_checks_coverage_sessions_and_dates(
    graphql: GraphQLClient, history: History
) -> None:
    """Another member's coverage, zero sessions and an end before the start are each named; none stored."""
    h = history
    token = h.accounts["B"].token
    bad = _auth_input(
        h,
        coverageId=str(h.coverage["n"]),
        sessionsAuthorized=0,
        endsOn=str(h.session_date - timedelta(days=5)),
    )
    result = graphql.data(ADD_AUTH, bad, token)["addAuthorization"]
    assert result["__typename"] == "InvalidInput"
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("coverageId", "other_client"),
        ("sessionsAuthorized", "not_positive"),
        ("endsOn", "before_start"),
    }
    before = graphql.data(AUTHS, {"c": str(h.m)}, token)["authorizations"]
    assert [a["reference"] for a in before] == ["M-ACTIVE"]
    added = graphql.data(ADD_AUTH, _auth_input(h), token)["addAuthorization"]
    assert added["authorization"] == {
        "reference": "PA-2026-77",
        "service": "group_psychotherapy",
        "remaining": 12,
        "expiringSoon": False,
        "active": True,
        "payerName": "Payer m",
    }
    assert len(graphql.data(AUTHS, {"c": str(h.m)}, token)["authorizations"]) == 2
    iop = _auth_input(h, reference="PA-IOP-1", service="INTENSIVE_OUTPATIENT")
    assert graphql.data(ADD_AUTH, iop, token)["addAuthorization"]["authorization"]["service"] == (
        "intensive_outpatient"
    )
    refused = graphql.execute(ADD_AUTH, _auth_input(h), h.accounts["F"].token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_plan_that_took_over_from_another_payer_counts_only_its_own_visits(
    graphql: GraphQLClient, database: Database, history: History
) -> None:
    """M's primary plan changes payer today (the old coverage ended at the clinic's midnight): the new
    plan's cap counts this year's visits from today on, not the two the old plan had."""
    h = history
    changed = datetime.combine(h.session_date, datetime.min.time(), ZONE)
    with tenant_session(database.engine, h.clinic.schema_name) as session:
        session.get_one(ClientCoverage, h.coverage["m"]).ended_at = changed
        session.flush()
        session.add(
            ClientCoverage(
                client_id=h.m, priority=CoveragePriority.PRIMARY, payer_name="New plan", member_id="Y2",
                visit_cap=12,
            )
        )  # fmt: skip
    this_year = (h.session_date, date(h.session_date.year, 1, 1))  # the fixture's visits this year
    marta = next(
        m for m in _brief(graphql, h, "F")["data"]["preSessionBrief"]["members"] if m["firstName"] == "Marta"
    )
    assert marta["visitCap"] == {
        "payerName": "New plan",
        "visitCap": 12,
        "visitsUsedThisYear": sum(1 for day in this_year if day >= h.session_date),
    }


def test_the_visit_cap_is_set_or_cleared_and_must_be_positive(
    graphql: GraphQLClient, history: History
) -> None:
    """A cap of 0 is rejected naming visitCap; 30 is stored with this year's visits; null clears it."""
    h = history
    token = h.accounts["B"].token
    variables = {"id": str(h.coverage["m"]), "cap": 0}
    assert graphql.data(SET_CAP, variables, token)["setCoverageVisitCap"]["errors"] == [
        {"field": "visitCap", "code": "out_of_range"}
    ]
    stored = graphql.data(SET_CAP, {"id": str(h.coverage["m"]), "cap": 30}, token)["setCoverageVisitCap"]
    assert stored["coverage"]["visitCap"] == 30 and stored["coverage"]["visitsUsedThisYear"] >= 1
    cleared = graphql.data(SET_CAP, {"id": str(h.coverage["m"]), "cap": None}, token)["setCoverageVisitCap"]
    assert cleared["coverage"]["visitCap"] is None


def test_authorization_rules_flag_expiry_and_low_remaining() -> None:
    """Within 14 days of the end, or 2 or fewer sessions left, is flagged; otherwise not."""
    on = date(2026, 3, 1)
    assert expiring_soon(10, date(2026, 3, 15), on) is True
    assert expiring_soon(10, date(2026, 3, 16), on) is False
    assert expiring_soon(2, date(2026, 12, 31), on) is True
    client, coverage = uuid.uuid4(), uuid.uuid4()
    draft = AuthorizationDraft(client, coverage, "  ", 5, on, on)
    assert [p.field for p in authorization_problems(draft, None)] == ["coverageId", "reference"]


def test_the_brief_runs_as_many_statements_for_five_members_as_for_two(
    graphql: GraphQLClient, app_database: Database, database: Database, history: History
) -> None:
    """Adding three members with their own history adds rows, not SQL statements."""
    h = history
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    _brief(graphql, h, "F")  # the engine's first connection runs its own set-up statements
    event.listen(app_database.async_engine.sync_engine, "before_cursor_execute", count)
    _brief(graphql, h, "F")
    two, statements = statements, 0
    with tenant_session(database.engine, h.clinic.schema_name) as session:
        extra = [add_client(session, f"Extra{i}", "Member") for i in range(3)]
        for client_id in extra:
            session.add(SessionAttendee(session_id=h.current, client_id=client_id))
            session.add(SessionAttendee(session_id=h.weeks[1], client_id=client_id, attendance=P))
            session.add(
                RiskFlag(id=uuid.uuid4(), client_id=client_id, session_id=h.weeks[1], level=RiskLevel.HIGH)
            )
    brief = _brief(graphql, h, "F")["data"]["preSessionBrief"]
    event.remove(app_database.async_engine.sync_engine, "before_cursor_execute", count)
    assert len(brief["members"]) == 5
    assert statements == two


FORECAST = (
    "query($c: ID!) { authorizations(clientId: $c) { reference "
    "forecast { lasts shortfallSessions runsOutOn reason } } }"
)


def test_the_forecast_says_an_authorization_runs_out_before_the_members_scheduled_sessions(
    graphql: GraphQLClient, history: History, database: Database
) -> None:
    """Two sessions left and three scheduled: the third is the shortfall, on its date, reason exhausted."""
    h = history
    with tenant_session(database.engine, h.clinic.schema_name) as session:
        current = session.get_one(GroupSession, h.current)
        for week in (1, 2):
            add_session(
                session,
                current.program_id,
                current.starts_at + timedelta(weeks=week),
                [h.staff["F"]],
                {h.m: None},
            )
    added = graphql.data(ADD_AUTH, _auth_input(h, sessionsAuthorized=2), h.accounts["B"].token)
    assert added["addAuthorization"]["__typename"] == "AuthorizationAdded"
    auths = graphql.data(FORECAST, {"c": str(h.m)}, h.accounts["B"].token)["authorizations"]
    outlook = next(a for a in auths if a["reference"] == "PA-2026-77")["forecast"]
    third = (h.session_date + timedelta(weeks=2)).isoformat()
    assert outlook == {"lasts": False, "shortfallSessions": 1, "runsOutOn": third, "reason": "exhausted"}
