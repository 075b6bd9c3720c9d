"""Schedules, single-session changes, coverage, series edits and concurrent double booking over GraphQL."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sqlalchemy import event, func, select

from backend.clients.models import Client
from backend.compliance.audit.events import AuditEvent
from backend.scheduling.models import Booking
from backend.tenants.routing import tenant_session
from tests.scheduling.helpers import create_program, room, staff
from tests.support import make_account

INDIVIDUAL = """
mutation($input: IndividualSessionInput!) {
  scheduleIndividualSession(input: $input) {
    __typename ... on Session { id kind attendeeCount } ... on UserError { field code }
    ... on DoubleBooked { resourceKind }
  }
}"""
MY_SCHEDULE = """
query($from: Date!, $to: Date!) {
  mySchedule(fromDate: $from, toDate: $to) {
    id kind programName startsAt status roomName telehealth attendeeCount facilitators { displayName role }
  }
}"""
SESSION_FIELDS = """
  __typename
  ... on Session { id startsAt status statusReason rescheduledFrom facilitators { staffId role coveringFor } }
  ... on UserError { field code }
  ... on DoubleBooked { resourceKind }
"""


def session_mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {SESSION_FIELDS} }} }}"


RESCHEDULE = session_mutation("rescheduleSession", "RescheduleSessionInput")
CANCEL = session_mutation("cancelSession", "CancelSessionInput")
COVER = session_mutation("coverSession", "CoverSessionInput")
EXCEPTION = session_mutation("addSeriesException", "SeriesExceptionInput")
UPDATE_SERIES = """
mutation($input: UpdateSeriesInput!) {
  updateSeries(input: $input) {
    __typename ... on UpdateSeriesSuccess { sessionsRemoved sessionsCreated } ... on UserError { field code }
  }
}"""
PROGRAM_SESSIONS = """
query($id: ID!) { node(id: $id) { ... on Program {
  sessions(fromDate: "2030-01-01", toDate: "2030-12-31") { id startsAt status } } } }"""


def client(database: Any, clinic: Any, name: str) -> str:
    with tenant_session(database.engine, clinic.schema_name) as session:
        member = Client(first_name=name, last_name="Member", date_of_birth=date(1990, 1, 1))
        session.add(member)
        session.flush()
        return str(member.id)


def run_together(calls: list[Any]) -> list[Any]:
    """Start the calls at the same moment on separate threads (separate connections and transactions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_bookings_of_one_clinician_leave_exactly_one(
    graphql, database, settings, make_clinic
) -> None:
    """Two simultaneous appointments for the same clinician and time: one wins, the other is DoubleBooked."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = staff(graphql, admin.token, "Dr Solo", credentials=())
    clients = [client(database, clinic, name) for name in ("Ana", "Ben")]
    for attempt in range(3):
        starts = f"2030-02-0{attempt + 1}T15:00:00-05:00"
        calls = [
            lambda c=c, starts=starts: graphql.data(
                INDIVIDUAL,
                {
                    "input": {
                        "clientId": c,
                        "staffId": clinician,
                        "startsAt": starts,
                        "minutes": 50,
                        "telehealth": True,
                    }
                },
                admin.token,
            )["scheduleIndividualSession"]
            for c in clients
        ]
        outcomes = sorted(r["__typename"] for r in run_together(calls))
        assert outcomes == ["DoubleBooked", "Session"]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 3


def test_concurrent_programs_in_one_room_leave_exactly_one(graphql, database, settings, make_clinic) -> None:
    """Two programs created at once for the same room and hour: one is created, the other names the room."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    room_id = room(graphql, admin.token, "Group Room")
    leads = [staff(graphql, admin.token, name) for name in ("A", "B")]
    results = run_together(
        [lambda lead=lead: create_program(graphql, admin.token, lead=lead, room_id=room_id) for lead in leads]
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["CreateProgramSuccess", "DoubleBooked"]
    assert next(r for r in results if r["__typename"] == "DoubleBooked")["field"] == "roomId"


def test_my_schedule_lists_groups_and_appointments_without_names(
    graphql, database, settings, make_clinic
) -> None:
    """A clinician's schedule spans their groups and individual sessions, with counts and no member names."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    me = make_account(database, settings, clinic, ["clinician"])
    mine = staff(graphql, admin.token, "Dr Me", userId=str(me.user_id))
    other = staff(graphql, admin.token, "Dr Other")
    room_id = room(graphql, admin.token, "Room 1")
    assert (
        create_program(graphql, admin.token, lead=mine, room_id=room_id)["__typename"]
        == "CreateProgramSuccess"
    )
    assert create_program(
        graphql, admin.token, lead=other, cofacilitatorId=mine, room_id=None, telehealth=True, name="Process",
        rrule="FREQ=WEEKLY;BYDAY=WE", firstStart="2030-01-02T10:00:00",
    )["__typename"] == "CreateProgramSuccess"  # fmt: skip
    member = client(database, clinic, "Zelda")
    graphql.data(
        INDIVIDUAL,
        {"input": {"clientId": member, "staffId": mine, "startsAt": "2030-01-03T15:00:00", "minutes": 50,
                   "telehealth": True}},
        admin.token,
    )  # fmt: skip
    entries = graphql.data(MY_SCHEDULE, {"from": "2030-01-01", "to": "2030-01-07"}, me.token)["mySchedule"]
    assert [(e["kind"], e["programName"]) for e in entries] == [
        ("group", "DBT Skills"),
        ("group", "Process"),
        ("individual", None),
    ]
    assert entries[1]["facilitators"] == [
        {"displayName": "Dr Other", "role": "lead"},
        {"displayName": "Dr Me", "role": "co"},
    ]
    assert entries[2]["attendeeCount"] == 1 and entries[0]["roomName"] == "Room 1"
    body = graphql.execute(
        'query($s: ID!) { staffSchedule(staffId: $s, fromDate: "2030-01-01", toDate: "2030-01-07") { id } }',
        {"s": other},
        me.token,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_reschedule_cancel_and_cover_one_session(graphql, database, settings, make_clinic) -> None:
    """Rescheduling onto a booked slot is DoubleBooked; cancelling frees it; a trained substitute covers."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    desk = make_account(database, settings, clinic, ["front_desk"])
    room_id = room(graphql, admin.token, "Room")
    lead, sub, untrained = (staff(graphql, admin.token, n, credentials=c) for n, c in
                            (("Lead", ("DBT",)), ("Sub", ("DBT",)), ("Untrained", ())))  # fmt: skip
    program = create_program(graphql, admin.token, lead=lead, room_id=room_id, substituteId=sub)["program"]
    sessions = graphql.data(PROGRAM_SESSIONS, {"id": program["id"]}, admin.token)["node"]["sessions"]
    first, second = sessions[0]["id"], sessions[1]["id"]

    move = {"input": {"sessionId": first, "startsAt": sessions[1]["startsAt"], "reason": "snow"}}
    clash = graphql.data(RESCHEDULE, move, desk.token)["rescheduleSession"]
    assert (clash["__typename"], clash["field"]) == ("DoubleBooked", "startsAt")
    cancelled = graphql.data(CANCEL, {"input": {"sessionId": second, "reason": "holiday"}}, desk.token)
    assert cancelled["cancelSession"]["status"] == "cancelled"
    moved = graphql.data(RESCHEDULE, move, desk.token)["rescheduleSession"]
    assert moved["__typename"] == "Session" and moved["rescheduledFrom"] == sessions[0]["startsAt"]

    refused = graphql.data(COVER, {"input": {"sessionId": first, "substituteStaffId": untrained,
                                            "reason": "lead ill"}}, desk.token)["coverSession"]  # fmt: skip
    assert (refused["__typename"], refused["field"], refused["code"]) == (
        "InvalidInput", "substituteStaffId", "missing_credential"
    )  # fmt: skip
    covered = graphql.data(COVER, {"input": {"sessionId": first, "reason": "lead ill"}}, desk.token)[
        "coverSession"
    ]
    assert covered["facilitators"] == [{"staffId": sub, "role": "lead", "coveringFor": lead}]
    clinician = make_account(database, settings, clinic, ["clinician"])
    body = graphql.execute(CANCEL, {"input": {"sessionId": first, "reason": "x"}}, clinician.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_series_exception_and_edit_change_only_future_sessions(
    graphql, database, settings, make_clinic
) -> None:
    """A skipped holiday has no session; series edits from March regenerate only unchanged future sessions."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Lead")
    program = create_program(graphql, admin.token, lead=lead, room_id=None, telehealth=True)["program"]
    skipped = graphql.data(
        EXCEPTION,
        {"input": {"programId": program["id"], "date": "2030-01-15", "action": "SKIP", "reason": "holiday"}},
        admin.token,
    )["addSeriesException"]
    assert skipped["__typename"] == "Session"
    edited = graphql.data(
        UPDATE_SERIES,
        {"input": {"programId": program["id"], "fromDate": "2030-03-01", "rrule": "FREQ=WEEKLY;BYDAY=TH"}},
        admin.token,
    )["updateSeries"]
    # Tuesdays 5-26 March go; Thursdays 7-28 March come.
    assert edited == {"__typename": "UpdateSeriesSuccess", "sessionsRemoved": 4, "sessionsCreated": 4}
    cancelled = graphql.data(
        EXCEPTION,
        {
            "input": {
                "programId": program["id"],
                "date": "2030-03-07",
                "action": "CANCEL",
                "reason": "training day",
            }
        },
        admin.token,
    )["addSeriesException"]
    assert cancelled["status"] == "cancelled"
    edited = graphql.data(
        UPDATE_SERIES,
        {"input": {"programId": program["id"], "fromDate": "2030-03-01", "rrule": "FREQ=WEEKLY;BYDAY=TU"}},
        admin.token,
    )["updateSeries"]
    # Back to Tuesdays: the cancelled Thursday 7 March stays with its reason; the others are replaced.
    assert edited == {"__typename": "UpdateSeriesSuccess", "sessionsRemoved": 3, "sessionsCreated": 4}
    sessions = graphql.data(PROGRAM_SESSIONS, {"id": program["id"]}, admin.token)["node"]["sessions"]
    march = [(s["startsAt"][:10], s["status"]) for s in sessions if s["startsAt"] >= "2030-03"]
    assert march == [
        ("2030-03-05", "scheduled"),
        ("2030-03-07", "cancelled"),
        ("2030-03-12", "scheduled"),
        ("2030-03-19", "scheduled"),
        ("2030-03-26", "scheduled"),
    ]
    days = [s["startsAt"][:10] for s in sessions]
    assert "2030-01-15" not in days and "2030-01-08" in days and "2030-02-26" in days
    assert "2030-02-26" in days
    change = {"programId": program["id"], "fromDate": "2030-03-01", "rrule": "FREQ=OFTEN"}
    bad = graphql.data(UPDATE_SERIES, {"input": change}, admin.token)["updateSeries"]
    assert (bad["field"], bad["code"]) == ("rrule", "invalid_rrule")


def test_calendar_feeds_serve_ics_by_clinic_and_secret(graphql, database, settings, make_clinic) -> None:
    """Staff and room feed URLs return text/calendar with program names; a wrong token or clinic is a 404."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    me = make_account(database, settings, clinic, ["clinician"])
    mine = staff(graphql, admin.token, "Dr Me", userId=str(me.user_id))
    from datetime import timedelta

    soon = date.today() + timedelta(days=7)
    create_program(graphql, admin.token, lead=mine, room_id=None, telehealth=True, startsOn=soon.isoformat(),
                   endsOn=(soon + timedelta(days=30)).isoformat(), rrule="FREQ=WEEKLY",
                   firstStart=f"{soon.isoformat()}T18:00:00")  # fmt: skip
    url = graphql.data("mutation { issueCalendarFeed { ... on CalendarFeed { url } } }", None, me.token)[
        "issueCalendarFeed"
    ]["url"]
    assert url.startswith(f"/calendar/{clinic.slug}/") and url.endswith(".ics")
    response = graphql.http.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    assert response.text.count("BEGIN:VEVENT") == 5 and "SUMMARY:DBT Skills" in response.text
    assert graphql.http.get(url.replace(clinic.slug, "no-such-clinic")).status_code == 404
    assert graphql.http.get(f"/calendar/{clinic.slug}/wrong-token.ics").status_code == 404
    room_id = room(graphql, admin.token, "Room R")
    two_weeks = (soon + timedelta(days=13)).isoformat()
    create_program(graphql, admin.token, lead=staff(graphql, admin.token, "Dr R"), room_id=room_id,
                   name="Room Group", startsOn=soon.isoformat(), endsOn=two_weeks,
                   rrule="FREQ=WEEKLY", firstStart=f"{soon.isoformat()}T09:00:00")  # fmt: skip
    issue_room = "mutation($r: ID!) { issueRoomCalendarFeed(roomId: $r) { ... on CalendarFeed { url } } }"
    room_url = graphql.data(issue_room, {"r": room_id}, admin.token)["issueRoomCalendarFeed"]["url"]
    room_feed = graphql.http.get(room_url).text
    assert room_feed.count("BEGIN:VEVENT") == 2 and "LOCATION:Room R" in room_feed


def test_concurrent_assignments_cannot_both_pass_a_load_cap(graphql, database, settings, make_clinic) -> None:
    """A facilitator capped at one group a week, put on two groups at once: one is refused, no deadlock."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Capped", maxGroupsPerWeek=1)
    days = [("FREQ=WEEKLY;BYDAY=TU", "2030-01-01T18:00:00"), ("FREQ=WEEKLY;BYDAY=TH", "2030-01-03T10:00:00")]
    results = run_together(
        [
            lambda rule=rule, first=first: create_program(
                graphql, admin.token, lead=lead, room_id=None, telehealth=True, rrule=rule, firstStart=first
            )
            for rule, first in days
        ]
    )
    assert sorted(r["__typename"] for r in results) == ["CreateProgramSuccess", "LoadCapExceeded"]


def test_staff_members_are_nodes_with_credentials(graphql, database, settings, make_clinic) -> None:
    """A staff member's global id resolves to their record and credentials for staff who may read it."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Dr Node")
    query = (
        "query($id: ID!) { node(id: $id) { ... on StaffMember { displayName credentials { credential } } } }"
    )
    node = graphql.data(query, {"id": lead}, admin.token)["node"]
    assert node == {"displayName": "Dr Node", "credentials": [{"credential": "DBT"}]}
    biller = make_account(database, settings, clinic, ["biller"])
    assert (
        graphql.execute(query, {"id": lead}, biller.token)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    )


def test_my_schedule_statement_count_does_not_grow_with_groups(
    graphql, app_database, database, settings, make_clinic
) -> None:
    """mySchedule runs the same number of SQL statements for a clinician with one group or three."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    counts = {}
    for groups in (1, 3):
        me = make_account(database, settings, clinic, ["clinician"])
        mine = staff(graphql, admin.token, f"Dr {groups}", userId=str(me.user_id))
        for i in range(groups):
            day = ["MO", "WE", "FR"][i]
            first = f"2030-01-0{[7, 2, 4][i]}T1{groups}:00:00"
            made = create_program(
                graphql, admin.token, lead=mine, room_id=None, telehealth=True,
                name=f"G{groups}{i}", rrule=f"FREQ=WEEKLY;BYDAY={day}", firstStart=first,
            )  # fmt: skip
            assert made["__typename"] == "CreateProgramSuccess", made
        statements: list[int] = []

        def count(*args: Any, seen: list[int] = statements) -> None:
            seen.append(1)

        event.listen(app_database.async_engine.sync_engine, "before_cursor_execute", count)
        try:
            entries = graphql.data(MY_SCHEDULE, {"from": "2030-01-01", "to": "2030-01-31"}, me.token)[
                "mySchedule"
            ]
        finally:
            event.remove(app_database.async_engine.sync_engine, "before_cursor_execute", count)
        assert len({e["programName"] for e in entries}) == groups
        counts[groups] = len(statements)
    assert counts[1] == counts[3]


def test_moved_occurrence_and_audited_appointment(graphql, database, settings, make_clinic) -> None:
    """A MOVE exception reschedules that day's session; an individual appointment is audited."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Lead")
    program = create_program(graphql, admin.token, lead=lead, room_id=None, telehealth=True)["program"]
    moved = graphql.data(
        EXCEPTION,
        {"input": {"programId": program["id"], "date": "2030-01-08", "action": "MOVE",
                   "movedTo": "2030-01-09T17:00:00", "reason": "room maintenance"}},
        admin.token,
    )["addSeriesException"]  # fmt: skip
    assert moved["startsAt"] == "2030-01-09T22:00:00+00:00" and moved["statusReason"] == "room maintenance"
    no_target = graphql.data(
        EXCEPTION,
        {"input": {"programId": program["id"], "date": "2030-01-10", "action": "SKIP", "reason": "x"}},
        admin.token,
    )["addSeriesException"]
    assert (no_target["field"], no_target["code"]) == ("date", "no_session")
    member = client(database, clinic, "Yuki")
    made = graphql.data(
        INDIVIDUAL,
        {"input": {"clientId": member, "staffId": lead, "startsAt": "2030-01-10T09:00:00", "minutes": 50,
                   "telehealth": True}},
        admin.token,
    )["scheduleIndividualSession"]  # fmt: skip
    assert made["kind"] == "individual" and made["attendeeCount"] == 1
    with tenant_session(database.engine, clinic.schema_name) as session:
        event_row = session.scalar(select(AuditEvent).where(AuditEvent.resource_type == "appointment"))
        assert event_row is not None and str(event_row.member_id) == member
    schedule = graphql.data(
        'query($s: ID!) { staffSchedule(staffId: $s, fromDate: "2030-01-01", toDate: "2030-01-14") '
        "{ kind } }",
        {"s": lead},
        admin.token,
    )["staffSchedule"]
    assert [e["kind"] for e in schedule] == ["group", "group", "individual"]
