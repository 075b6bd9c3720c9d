"""Creating programs and their sessions through GraphQL, with facilitator and room checks."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.scheduling.models import Booking, GroupSession
from backend.tenants.routing import tenant_session
from tests.scheduling.helpers import create_program, room, staff
from tests.support import make_account

SESSIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Program { name sessions(fromDate: "2030-01-01", toDate: "2030-12-31") {
      startsAt status roomName facilitators { displayName role } attendeeCount } }
  }
}"""


def test_create_program_materializes_weekly_sessions_with_bookings(
    graphql, database, settings, make_clinic
) -> None:
    """A 13-week Tuesday program gets 13 sessions at 18:00 local, each booking its facilitator and room."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Dr Lead")
    room_id = room(graphql, admin.token, "Room A")
    result = create_program(graphql, admin.token, lead=lead, room_id=room_id)
    assert result["__typename"] == "CreateProgramSuccess", result
    assert result["sessionsCreated"] == 13
    data = graphql.data(SESSIONS, {"id": result["program"]["id"]}, admin.token)["node"]
    assert [s["startsAt"][11:16] for s in data["sessions"]][:2] == ["23:00", "23:00"]  # 18:00 EST
    assert data["sessions"][0]["facilitators"] == [{"displayName": "Dr Lead", "role": "lead"}]
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 26
        assert session.scalar(select(func.count()).select_from(GroupSession)) == 13


def test_overlapping_program_is_double_booked_and_nothing_is_written(
    graphql, database, settings, make_clinic
) -> None:
    """A second program in the same room at the same time is rejected, naming the room; no sessions remain."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    room_id = room(graphql, admin.token, "Room A")
    first = create_program(graphql, admin.token, lead=staff(graphql, admin.token, "A"), room_id=room_id)
    assert first["__typename"] == "CreateProgramSuccess"
    second = create_program(
        graphql, admin.token, lead=staff(graphql, admin.token, "B"), room_id=room_id,
        firstStart="2030-01-01T19:00:00", name="Process",
    )  # fmt: skip
    assert second["__typename"] == "DoubleBooked", second
    assert second["field"] == "roomId" and second["resourceKind"] == "room"
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(GroupSession)) == 13


def test_facilitator_without_credential_or_over_cap_is_rejected(
    graphql, database, settings, make_clinic
) -> None:
    """A lead lacking DBT is named by field; a lead capped at one group a week fails the second group."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    uncredentialed = staff(graphql, admin.token, "New Hire", credentials=())
    result = create_program(graphql, admin.token, lead=uncredentialed, room_id=None, telehealth=True)
    assert (result["__typename"], result["field"], result["code"]) == (
        "InvalidInput",
        "leadFacilitatorId",
        "missing_credential",
    )
    capped = staff(graphql, admin.token, "Capped", maxGroupsPerWeek=1)
    assert create_program(graphql, admin.token, lead=capped, room_id=None, telehealth=True)["__typename"] == (
        "CreateProgramSuccess"
    )
    again = create_program(
        graphql, admin.token, lead=capped, room_id=None, telehealth=True, rrule="FREQ=WEEKLY;BYDAY=TH",
        firstStart="2030-01-03T10:00:00",
    )  # fmt: skip
    assert (again["__typename"], again["field"], again["period"], again["cap"]) == (
        "LoadCapExceeded",
        "leadFacilitatorId",
        "week",
        1,
    )


def test_bad_program_input_names_fields(graphql, database, settings, make_clinic) -> None:
    """Unknown zone, invalid RRULE, end before start and a missing co-facilitator are typed field errors."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Lead")
    result = create_program(
        graphql, admin.token, lead=lead, room_id=None, telehealth=True, timezone="Mars/Base",
        rrule="FREQ=SOMETIMES", endsOn="2029-01-01", requiresCofacilitator=True,
    )  # fmt: skip
    assert result["__typename"] == "InvalidInput"
    assert {e["field"] for e in result["errors"]} >= {"timezone", "rrule", "endsOn", "cofacilitatorId"}


def test_only_program_managers_create_programs(graphql, database, settings, make_clinic) -> None:
    """A clinician may read programs but not create them; front desk cannot create staff."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    lead = staff(graphql, admin.token, "Lead")
    clinician = make_account(database, settings, clinic, ["clinician"])
    from tests.scheduling.helpers import CREATE_PROGRAM, CREATE_STAFF, program_input

    body = graphql.execute(
        CREATE_PROGRAM, {"input": program_input(lead, None, telehealth=True)}, clinician.token
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    desk = make_account(database, settings, clinic, ["front_desk"])
    body = graphql.execute(CREATE_STAFF, {"input": {"displayName": "X"}}, desk.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = graphql.data("{ programs { nodes { name } } }", None, clinician.token)
    assert listed["programs"]["nodes"] == []
