"""The issue's Part 2 scenario end to end through the frontend contract's operations.

Marta is a member of a DBT skills group (not Part 2) and of an SUD intensive outpatient program
(Part 2). Theo leads the DBT group and is on Marta's care team; Fay facilitates the SUD group.
Without Marta's consent Theo sees none of her SUD content in her record, her diagnoses, the brief
or the SUD session's record, each withheld with the Part 2 marker; with a consent naming the DBT
program he sees it; after revocation he does not; break-the-glass needs a reason, opens her
content for four hours, is reported to the compliance officer, and closes again when it expires.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from strawberry import relay

from backend.authorization.roles import Role
from backend.clients.models import ClientDiagnosis
from backend.compliance.audit.events import AuditEvent
from backend.compliance.part2.break_glass import GRANT_DURATION, NOTIFICATION_TEMPLATE
from backend.compliance.part2.models import BreakGlassGrant, Consent
from backend.database import Database
from backend.documentation.models import RiskFlag
from backend.documentation.templates import RiskLevel
from backend.enrollment.rules import Attendance
from backend.notifications.models import Notification
from backend.programs.models import Program
from backend.settings import Settings
from backend.staff.models import StaffMember
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import CareTeamMember
from tests.documentation.test_privacy_matrix import add_client, add_record, add_session, add_staff
from tests.support import Account, GraphQLClient, make_account
from tests.test_group_lifecycle import contract
from tests.waitlist.factories import make_program

FILE = "part2.graphql"
#: The reads that show Part 2 content (and the writes that could reveal it) live with their
#: workflow's operations.
READS = {
    "MemberRecord": "documentation_reads.graphql",
    "PreSessionBrief": "documentation_reads.graphql",
    "SessionRecord": "session_record.graphql",
    "GetClientClinical": "clients.graphql",
    "AddDiagnosis": "clients.graphql",
    "RemoveDiagnosis": "clients.graphql",
    "ResolveRiskFlag": "session_record.graphql",
    "AddSupervisionNote": "session_record.graphql",
}
SUD_NOTE = "Relapse prevention: urge surfing and high-risk situations."
SUD_SECTION = "Marta named her drinking triggers and a refusal script."
DBT_SECTION = "Marta practised paced breathing."


class Caller:
    """One signed-in user running contract operations (responses returned whole)."""

    def __init__(self, graphql: GraphQLClient, account: Account) -> None:
        self.graphql, self.account = graphql, account

    def run(self, operation: str, **variables: Any) -> Any:
        document = contract(operation, READS.get(operation, FILE))
        body = {"query": document, "operationName": operation, "variables": variables}
        headers = {"Authorization": f"Bearer {self.account.token}"}
        return self.graphql.http.post("/graphql", json=body, headers=headers).json()

    def data(self, operation: str, **variables: Any) -> Any:
        response = self.run(operation, **variables)
        assert not response.get("errors"), response["errors"]
        return response["data"]


@dataclass
class Scenario:
    database: Database
    clinic: Tenant
    marta: uuid.UUID
    sud_program: uuid.UUID
    dbt_program: uuid.UUID
    sud_session: uuid.UUID
    next_dbt: uuid.UUID
    theo: Caller
    fay: Caller
    desk: Caller
    officer: Caller
    admin: Caller
    officer_email: str

    def marta_record(self) -> dict[str, Any]:
        """Theo's view of Marta's record, by session: the SUD and the DBT entries."""
        edges = self.theo.data("MemberRecord", clientId=str(self.marta))["memberRecord"]["edges"]
        return {
            ("sud" if e["node"]["sessionId"] == str(self.sud_session) else "dbt"): e["node"] for e in edges
        }

    def marta_diagnoses(self) -> dict[str, dict[str, Any]]:
        node = self.theo.data("GetClientClinical", id=relay.to_base64("Client", str(self.marta)))["node"]
        return {
            "sud" if d["part2Withheld"] or d["code"].startswith("F10") else d["code"]: d
            for d in node["diagnoses"]
        }

    def marta_brief(self) -> dict[str, Any]:
        brief = self.theo.data("PreSessionBrief", sessionId=str(self.next_dbt))["preSessionBrief"]
        member: dict[str, Any] = brief["members"][0]
        return member

    def marta_open_risks(self, member: dict[str, Any]) -> dict[str, tuple[str | None, bool]]:
        """Her open flags in the brief: (level, part2Withheld) by the session that raised them."""
        return {
            ("sud" if f["sessionId"] == str(self.sud_session) else "dbt"): (f["level"], f["part2Withheld"])
            for f in member["riskFlags"]
        }

    def sud_record(self, caller: Caller | None = None) -> dict[str, Any]:
        record: dict[str, Any] = (caller or self.theo).data("SessionRecord", sessionId=str(self.sud_session))[
            "sessionRecord"
        ]
        return record

    def consent_to_dbt(self, **changes: Any) -> Any:
        values: dict[str, Any] = {
            "memberId": str(self.marta),
            "recipients": [{"kind": "PROGRAM", "id": str(self.dbt_program)}],
            "purposes": ["TREATMENT"],
            "categories": ["ALL"],
            "endEvent": "end of treatment",
        }
        values.update(changes)
        return self.desk.data("RecordConsent", input=values)["recordConsent"]


@pytest.fixture
def scenario(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> Scenario:
    clinic = make_clinic()
    roles = {
        "theo": Role.CLINICIAN,
        "fay": Role.CLINICIAN,
        "desk": Role.FRONT_DESK,
        "officer": Role.COMPLIANCE_OFFICER,
        "admin": Role.TENANT_ADMIN,
    }
    accounts = {k: make_account(database, settings, clinic, [r.value]) for k, r in roles.items()}
    now = datetime.now(UTC).replace(microsecond=0)
    with tenant_session(database.engine, clinic.schema_name) as session:
        theo = add_staff(session, "Theo Lind", accounts["theo"].user_id)
        fay = add_staff(session, "Fay Okafor", accounts["fay"].user_id)
        dbt = make_program(session, name="DBT skills", lead_facilitator_id=theo)
        sud = make_program(session, name="SUD intensive outpatient", lead_facilitator_id=fay)
        marta = add_client(session, "Marta", "Quill")
        nils = add_client(session, "Nils", "Ostrow")
        session.add(CareTeamMember(client_id=marta, staff_id=theo, since=date(2026, 1, 5)))
        for code, primary in (("F10.20", True), ("F33.1", False)):
            session.add(
                ClientDiagnosis(client_id=marta, code=code, is_primary=primary, noted_on=date(2026, 1, 5))
            )
        dbt_session = add_session(
            session, dbt.id, now - timedelta(days=2), [theo], {marta: Attendance.PRESENT}
        )
        sud_session = add_session(
            session,
            sud.id,
            now - timedelta(days=1),
            [fay],
            {marta: Attendance.PRESENT, nils: Attendance.PRESENT},
        )
        next_dbt = add_session(session, dbt.id, now + timedelta(days=1), [theo], {marta: None})
        for flagged_in, level in ((dbt_session, RiskLevel.LOW), (sud_session, RiskLevel.HIGH)):
            session.add(RiskFlag(id=uuid.uuid4(), client_id=marta, session_id=flagged_in, level=level))
        add_record(session, dbt_session, {"theme": "mindfulness"}, {marta: {"participation": DBT_SECTION}})
        add_record(
            session,
            sud_session,
            {"theme": "relapse_prevention", "activities": SUD_NOTE},
            {
                marta: {"participation": SUD_SECTION},
                nils: {"participation": "Nils shared his sobriety date."},
            },
        )
    callers = {k: Caller(graphql, a) for k, a in accounts.items()}
    found = Scenario(
        database,
        clinic,
        marta,
        sud.id,
        dbt.id,
        sud_session,
        next_dbt,
        officer_email=accounts["officer"].email,
        **callers,
    )
    flagged = found.admin.data("SetProgramPart2", programId=str(sud.id), part2=True)["setProgramPart2"]
    assert flagged["program"]["part2"] is True
    return found


def assert_withheld(s: Scenario) -> None:
    """Theo sees none of Marta's SUD content anywhere, and each place says Part 2 withheld it."""
    record = s.marta_record()
    sud, dbt = record["sud"], record["dbt"]
    assert sud["part2Withheld"] is True and sud["programName"] is None and sud["attendance"] is None
    assert sud["groupNote"] == {"content": None, "withheld": True, "part2Withheld": True}
    assert sud["section"] == {"scope": None, "content": None, "withheld": True, "part2Withheld": True}
    assert dbt["section"]["content"]["participation"] == DBT_SECTION and not dbt["part2Withheld"]
    diagnoses = s.marta_diagnoses()
    assert diagnoses["sud"]["code"] is None and diagnoses["sud"]["part2Withheld"] is True
    assert diagnoses["F33.1"]["part2Withheld"] is False
    member = s.marta_brief()
    assert member["lastSection"]["part2Withheld"] is True and member["lastSection"]["content"] is None
    assert [a["part2Withheld"] for a in member["recentAttendance"]] == [True, False]
    # The SUD flag is listed (so Theo knows to ask or break the glass) without its level.
    assert s.marta_open_risks(member) == {"sud": (None, True), "dbt": ("LOW", False)}
    session = s.sud_record()
    assert (
        session["part2"] is True
        and session["groupNote"] is None
        and session["groupNotePart2Withheld"] is True
    )
    assert [m["clientId"] for m in session["members"]] == [str(s.marta)]  # Nils: no relation at all
    row = session["members"][0]
    assert row["attendancePart2Withheld"] and row["sectionPart2Withheld"] and row["attendance"] is None
    everything = str([record, diagnoses, member, session])
    assert "F10" not in everything and "drinking" not in everything and "Relapse" not in everything


def assert_shown(s: Scenario) -> None:
    """Theo sees Marta's SUD content everywhere, with no Part 2 marker."""
    sud = s.marta_record()["sud"]
    assert sud["part2Withheld"] is False and sud["programName"] == "SUD intensive outpatient"
    assert (
        sud["groupNote"]["content"]["activities"] == SUD_NOTE and sud["groupNote"]["part2Withheld"] is False
    )
    assert sud["section"]["content"]["participation"] == SUD_SECTION
    assert s.marta_diagnoses()["sud"]["code"] == "F10.20"
    member = s.marta_brief()
    assert member["lastSection"]["content"]["participation"] == SUD_SECTION
    assert s.marta_open_risks(member) == {"sud": ("HIGH", False), "dbt": ("LOW", False)}
    session = s.sud_record()
    assert session["groupNote"]["activities"] == SUD_NOTE
    assert session["members"][0]["section"]["content"]["participation"] == SUD_SECTION
    assert "Nils" not in str(session)


def test_an_outside_clinician_sees_part2_content_only_while_a_consent_covers_their_program(
    scenario: Scenario,
) -> None:
    """Without consent: withheld with the marker; after consent to the DBT program: shown; after revocation:
    withheld again, and the revoked consent stays listed as inactive."""
    s = scenario
    assert_withheld(s)
    recorded = s.consent_to_dbt()
    assert recorded["__typename"] == "ConsentRecorded" and recorded["consent"]["active"] is True
    assert_shown(s)
    revoked = s.desk.data("RevokeConsent", id=recorded["consent"]["id"], reason="Written revocation")
    assert revoked["revokeConsent"]["consent"]["revokedAt"] is not None
    assert_withheld(s)
    listed = s.desk.data("MemberConsents", memberId=str(s.marta))["memberConsents"]
    assert [(c["active"], c["revocationReason"]) for c in listed] == [(False, "Written revocation")]


def test_adding_a_sud_diagnosis_never_reveals_a_withheld_one(scenario: Scenario) -> None:
    """Theo may not see Marta's F10.20: trying to add it, or another SUD code, gets the same answer,
    which says nothing of the codes she has. Under her consent, the duplicate is named as such."""
    s = scenario

    def add(code: str) -> Any:
        diagnosis = {"code": code, "notedOn": "2026-02-01", "primary": False}
        return s.theo.data("AddDiagnosis", input={"clientId": str(s.marta), "diagnosis": diagnosis})[
            "addDiagnosis"
        ]

    held, absent = add("F10.20"), add("F11.20")
    assert held == absent
    assert held["__typename"] == "InvalidInput" and (held["field"], held["code"]) == (
        "diagnosis.code",
        "part2_withheld",
    )
    assert add("F41.1")["__typename"] == "ClientChanged"  # not a Part 2 code: recorded as usual
    s.consent_to_dbt()
    again = add("F10.20")
    assert (again["__typename"], again["code"]) == ("InvalidInput", "duplicate")
    assert add("F11.20")["__typename"] == "ClientChanged"
    assert set(s.marta_diagnoses()) == {"sud", "F11.20", "F33.1", "F41.1"}


def test_a_new_primary_never_demotes_a_withheld_sud_primary(scenario: Scenario) -> None:
    """Marta's primary is F10.20, withheld from Theo: adding F41.1 as primary is refused naming
    diagnosis.primary (as secondary it is recorded) and her SUD diagnosis stays primary."""
    s = scenario

    def add(primary: bool) -> Any:
        diagnosis = {"code": "F41.1", "notedOn": "2026-02-01", "primary": primary}
        return s.theo.data("AddDiagnosis", input={"clientId": str(s.marta), "diagnosis": diagnosis})[
            "addDiagnosis"
        ]

    refused = add(primary=True)
    assert (refused["__typename"], refused["field"], refused["code"]) == (
        "InvalidInput",
        "diagnosis.primary",
        "part2_withheld",
    )
    assert add(primary=False)["__typename"] == "ClientChanged"
    assert s.marta_diagnoses()["sud"]["primary"] is True


def test_ending_a_withheld_sud_diagnosis_needs_what_seeing_it_needs(scenario: Scenario) -> None:
    """Theo sees Marta's F10.20 listed as withheld (its id, no code): ending it is refused naming
    diagnosisId and leaves it current; under her consent he may end it."""
    s = scenario
    withheld = s.marta_diagnoses()["sud"]

    def remove() -> Any:
        return s.theo.data("RemoveDiagnosis", input={"diagnosisId": withheld["id"]})["removeDiagnosis"]

    refused = remove()
    assert refused["__typename"] == "InvalidInput"
    assert (refused["field"], refused["code"]) == ("diagnosisId", "part2_withheld")
    assert s.marta_diagnoses()["sud"]["part2Withheld"] is True, "still current"
    s.consent_to_dbt()
    assert remove()["__typename"] == "ClientChanged"
    assert set(s.marta_diagnoses()) == {"F33.1"}


def test_writing_into_a_part2_record_needs_what_reading_it_needs(
    scenario: Scenario, graphql: GraphQLClient, settings: Settings
) -> None:
    """Theo (treating Marta) resolving the risk flag of her SUD section, and Sam (Theo's supervisor)
    adding a supervision note to the SUD session: refused as Part 2 until her consent covers them."""
    s = scenario
    sam = make_account(s.database, settings, s.clinic, [Role.SUPERVISOR.value])
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        sam_staff = add_staff(session, "Sam Reyes", sam.user_id)
        session.execute(
            update(StaffMember)
            .where(StaffMember.user_id == s.theo.account.user_id)
            .values(supervisor_id=sam_staff)
        )
        flag = RiskFlag(
            id=uuid.uuid4(), client_id=s.marta, session_id=s.sud_session, level=RiskLevel.MODERATE
        )
        session.add(flag)
    supervisor = Caller(graphql, sam)

    def resolve() -> Any:
        return s.theo.run("ResolveRiskFlag", flagId=str(flag.id))

    def supervise() -> Any:
        return supervisor.run(
            "AddSupervisionNote", input={"sessionId": str(s.sud_session), "text": "Reviewed."}
        )

    for refused in (resolve(), supervise()):
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "part2_content" in refused["errors"][0]["message"]
    s.consent_to_dbt()
    assert resolve()["data"]["resolveRiskFlag"]["__typename"] == "RiskFlagResolved"
    assert supervise()["data"]["addSupervisionNote"]["__typename"] == "SupervisionNoteAdded"


def test_the_facilitator_inside_the_part2_program_sees_it_without_consent(scenario: Scenario) -> None:
    """Fay facilitates the SUD group: every section and the group note, no marker."""
    record = scenario.sud_record(scenario.fay)
    assert record["groupNote"]["activities"] == SUD_NOTE and not record["groupNotePart2Withheld"]
    assert {m["section"]["content"]["participation"] for m in record["members"]} == {
        SUD_SECTION,
        "Nils shared his sobriety date.",
    }


def test_a_consent_for_another_program_or_category_opens_nothing_it_does_not_name(scenario: Scenario) -> None:
    """A consent to the SUD program itself, or to DBT for diagnoses only, leaves the notes withheld."""
    s = scenario
    s.consent_to_dbt(recipients=[{"kind": "PROGRAM", "id": str(s.sud_program)}])
    s.consent_to_dbt(categories=["DIAGNOSES"])
    record = s.marta_record()["sud"]
    assert record["section"]["part2Withheld"] is True and record["groupNote"]["part2Withheld"] is True
    assert s.marta_diagnoses()["sud"]["code"] == "F10.20"


def test_recording_the_end_event_ends_the_consent(scenario: Scenario) -> None:
    """An event consent ("end of treatment") stops covering once staff record that the event happened."""
    s = scenario
    consent = s.consent_to_dbt()["consent"]
    assert_shown(s)
    ended = s.desk.data("RecordConsentEndEvent", id=consent["id"])["recordConsentEndEvent"]
    assert ended["consent"]["endEventRecordedAt"] is not None and ended["consent"]["active"] is False
    assert_withheld(s)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        (
            {"startsAt": "2026-06-01T00:00:00+00:00", "endsAt": "2026-05-01T00:00:00+00:00"},
            "endsAt",
            "before_start",
        ),
        ({"recipients": []}, "recipients", "required"),
        ({"purposes": []}, "purposes", "required"),
        ({"endEvent": None}, "endsAt", "required"),
    ],
)
def test_an_invalid_consent_is_refused_naming_the_field_and_stores_nothing(
    scenario: Scenario, changes: dict[str, Any], field: str, code: str
) -> None:
    """End before start, no recipient, no purpose, no end: InvalidInput on that field; no consent stored."""
    result = scenario.consent_to_dbt(**changes)
    assert result["__typename"] == "InvalidInput"
    assert (field, code) in {(e["field"], e["code"]) for e in result["errors"]}
    assert scenario.desk.data("MemberConsents", memberId=str(scenario.marta))["memberConsents"] == []
    assert_withheld(scenario)


def test_break_the_glass_needs_a_reason_opens_the_member_for_four_hours_and_is_reported(
    scenario: Scenario,
) -> None:
    """A blank reason is refused; a stated one opens Marta's content, is listed (and in CSV) for the
    compliance officer, notifies them, is audited; once the grant has expired it is withheld again."""
    s = scenario
    refused = s.theo.data("BreakTheGlass", memberId=str(s.marta), reason="   ")["breakTheGlass"]
    assert refused["__typename"] == "InvalidInput" and refused["field"] == "reason"
    assert_withheld(s)
    reason = "Unresponsive in group; need substance history for EMS"
    granted = s.theo.data("BreakTheGlass", memberId=str(s.marta), reason=reason)["breakTheGlass"]
    assert granted["__typename"] == "BreakGlassGranted"
    expires = datetime.fromisoformat(granted["expiresAt"])
    assert abs(expires - datetime.now(UTC) - GRANT_DURATION) < timedelta(minutes=1)
    assert_shown(s)

    window = {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "to": (expires).isoformat()}
    events = s.officer.data("BreakGlassEvents", **window)["breakGlassEvents"]["events"]
    assert [(e["memberId"], e["staffName"], e["reason"]) for e in events] == [
        (str(s.marta), "Theo Lind", reason)
    ]
    table = list(
        csv.reader(io.StringIO(s.officer.data("BreakGlassEventsCsv", **window)["breakGlassEvents"]["csv"]))
    )
    assert table[0][-2:] == ["member_id", "reason"] and table[1][-2:] == [str(s.marta), reason]
    assert s.theo.run("BreakGlassEvents", **window)["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        notified = session.execute(
            select(Notification.recipient, Notification.body).where(
                Notification.template == NOTIFICATION_TEMPLATE
            )
        ).all()
        assert [r for r, _ in notified] == [s.officer_email] and "Marta" not in notified[0][1]
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.resource_type == "break_glass",
                AuditEvent.action == "create",
                AuditEvent.member_id == s.marta,
            )
        )
        assert audited == 1
        earlier = datetime.now(UTC) - GRANT_DURATION - timedelta(hours=1)
        session.execute(
            update(BreakGlassGrant).values(granted_at=earlier, expires_at=earlier + GRANT_DURATION)
        )
    assert_withheld(s)


def test_only_clinical_roles_break_the_glass_and_only_for_a_member_of_this_clinic(scenario: Scenario) -> None:
    """Front desk is refused by the guard; an unknown member id is NotFound and nothing is stored."""
    s = scenario
    body = s.desk.run("BreakTheGlass", memberId=str(s.marta), reason="Emergency")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    missing = s.theo.data("BreakTheGlass", memberId=str(uuid.uuid4()), reason="Emergency")["breakTheGlass"]
    assert missing["__typename"] == "NotFound" and missing["field"] == "memberId"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(BreakGlassGrant)) == 0
        assert session.scalar(select(func.count()).select_from(Consent)) == 0
        assert session.get_one(Program, s.sud_program).part2 is True
