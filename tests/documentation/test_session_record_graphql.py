"""The 8-member stress scenario end to end through the frontend contract's operations.

Eight members, one no-show, two payers, a lead clinician with a trainee co-facilitator whose
supervisor co-signs: attendance once, a group note, seven individual sections and an absence note;
a cloned section blocked; signatures, co-signature, lock; who sees what; addenda; a removal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.app import create_app
from backend.database import Database
from backend.documentation.models import BillableEvent, RiskFlag
from backend.scheduling.models import GroupSession, SessionStatus
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.documentation.group_scenario import GROUP_NOTE, Group, make_group, member_content
from tests.support import Account, GraphQLClient, make_account
from tests.test_group_lifecycle import contract

FILE = "session_record.graphql"


class Caller:
    """One signed-in user running contract operations (errors returned, not asserted away)."""

    def __init__(self, graphql: GraphQLClient, account: Account) -> None:
        self.graphql, self.account = graphql, account

    def run(self, operation: str, file: str = FILE, **variables: Any) -> Any:
        body = {"query": contract(operation, file), "operationName": operation, "variables": variables}
        headers = {"Authorization": f"Bearer {self.account.token}"}
        return self.graphql.http.post("/graphql", json=body, headers=headers).json()

    def data(self, operation: str, file: str = FILE, **variables: Any) -> Any:
        response = self.run(operation, file, **variables)
        assert not response.get("errors"), response["errors"]
        return response["data"]


@pytest.fixture
def api(app_database: Database, settings: Settings) -> Iterator[GraphQLClient]:
    with TestClient(create_app(settings, app_database)) as http:
        yield GraphQLClient(http)


class Scenario:
    def __init__(self, api: GraphQLClient, database: Database, settings: Settings, clinic: Tenant) -> None:
        self.database, self.clinic = database, clinic
        accounts = {
            role: make_account(database, settings, clinic, [roles])
            for role, roles in [
                ("lead", "clinician"),
                ("trainee", "trainee"),
                ("supervisor", "supervisor"),
                ("biller", "biller"),
                ("outsider", "clinician"),
            ]
        }
        self.group: Group = make_group(
            database.engine,
            clinic.schema_name,
            {r: accounts[r].user_id for r in ("lead", "trainee", "supervisor")},
        )
        self.callers = {role: Caller(api, account) for role, account in accounts.items()}
        self.sid = str(self.group.session_id)

    def __getattr__(self, role: str) -> Caller:
        return self.callers[role]

    @property
    def no_show(self) -> Any:
        return self.group.members[-1]

    def record_attendance(self) -> None:
        start = self._starts_at()
        entries = [{"clientId": str(m.client_id), "status": "PRESENT"} for m in self.group.members]
        entries[0] = {
            **entries[0],
            "status": "LATE",
            "arrivedAt": (start + timedelta(minutes=20)).isoformat(),
        }
        entries[1] = {
            **entries[1],
            "status": "LEFT_EARLY",
            "departedAt": (start + timedelta(minutes=60)).isoformat(),
        }
        entries[-1] = {"clientId": str(self.no_show.client_id), "status": "NO_SHOW"}
        result = self.lead.data(
            "RecordAttendance", "enrollment.graphql", input={"sessionId": self.sid, "entries": entries}
        )["recordAttendance"]
        assert result["__typename"] == "AttendanceRecorded", result

    def document(self) -> None:
        saved = self.lead.data("SaveGroupNote", input={"sessionId": self.sid, "content": GROUP_NOTE})[
            "saveGroupNote"
        ]
        assert saved["__typename"] == "RecordSaved", saved
        for member in self.group.members[:-1]:
            saved = self.save_section(member.client_id, member_content(member))
            assert saved["__typename"] == "RecordSaved", saved
        absence = {"outreach_attempted": True, "note": "Voicemail left at 10:40."}
        assert self.save_section(self.no_show.client_id, absence)["__typename"] == "RecordSaved"

    def save_section(self, client_id: Any, content: dict[str, object], caller: str = "lead") -> Any:
        result = self.callers[caller].data(
            "SaveMemberSection", input={"sessionId": self.sid, "clientId": str(client_id), "content": content}
        )["saveMemberSection"]
        return result

    def _starts_at(self) -> Any:
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            return session.get_one(GroupSession, self.group.session_id).starts_at

    def billable(self) -> dict[Any, BillableEvent]:
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            rows = session.scalars(
                select(BillableEvent).where(BillableEvent.session_id == self.group.session_id)
            )
            return {e.client_id: e for e in rows}


@pytest.fixture
def scenario(
    api: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> Scenario:
    return Scenario(api, database, settings, make_clinic())


def _signed_final(s: Scenario) -> None:
    s.record_attendance()
    s.document()
    assert (
        s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]["__typename"] == "RecordSigned"
    )
    assert (
        s.trainee.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]["__typename"]
        == "RecordSigned"
    )
    trainee_id = str(s.group.staff["trainee"])
    cosigned = s.supervisor.data("CosignSessionRecord", sessionId=s.sid, traineeId=trainee_id)[
        "cosignSessionRecord"
    ]
    assert cosigned["record"]["status"] == "FINAL", cosigned


def test_eight_member_session_is_documented_signed_cosigned_and_closed_with_one_event_per_present_member(
    scenario: Scenario,
) -> None:
    """7 present (one late, one left early) + 1 no-show: 7 billable events, none for the no-show."""
    s = scenario
    s.record_attendance()
    s.document()
    lead_signed = s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert lead_signed["__typename"] == "RecordSigned", lead_signed
    assert lead_signed["record"]["status"] == "AWAITING_SIGNATURES"
    assert lead_signed["warnings"]["blocked"] is False
    trainee_signed = s.trainee.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert trainee_signed["record"]["status"] == "AWAITING_COSIGNATURE"
    assert s.billable() == {}, "nothing is billable before the record is final"
    trainee_id = str(s.group.staff["trainee"])
    final = s.supervisor.data("CosignSessionRecord", sessionId=s.sid, traineeId=trainee_id)[
        "cosignSessionRecord"
    ]
    record = final["record"]
    assert record["status"] == "FINAL" and record["finalizedAt"]
    cosigned = next(x for x in record["signers"] if x["requiresCosign"])
    assert cosigned["cosignedAt"] and cosigned["signedAt"]

    events = s.billable()
    present = {m.client_id for m in s.group.members[:-1]}
    assert set(events) == present and s.no_show.client_id not in events
    late, left_early = s.group.members[0], s.group.members[1]
    assert events[late.client_id].minutes_attended == 70
    assert events[left_early.client_id].minutes_attended == 60
    assert {e.present_count for e in events.values()} == {7}
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        assert session.get_one(GroupSession, s.group.session_id).status == SessionStatus.COMPLETED
        flagged = session.scalar(
            select(func.count()).select_from(RiskFlag).where(RiskFlag.session_id == s.group.session_id)
        )
    assert flagged == 1, "the one member with moderate risk gets an open risk flag"

    view = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    absent = next(m for m in view["members"] if m["clientId"] == str(s.no_show.client_id))
    assert absent["attendance"] == "NO_SHOW"
    assert (
        absent["section"]["scope"] == "ABSENCE" and absent["section"]["content"]["outreach_attempted"] is True
    )


def test_a_cloned_section_blocks_signing_and_explains_what_is_shared(scenario: Scenario) -> None:
    """A section copied from another member's with the name swapped blocks signing; nothing is signed."""
    s = scenario
    s.record_attendance()
    s.document()
    source, copy = s.group.members[2], s.group.members[3]
    swapped = json.dumps(member_content(source)).replace(source.first_name, copy.first_name)
    cloned = json.loads(swapped.replace(str(source.goal_id), str(copy.goal_id)))
    s.save_section(copy.client_id, cloned)
    blocked = s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert blocked["__typename"] == "SigningBlocked" and blocked["code"] == "not_individualized"
    pair = blocked["individuality"]["pairs"][0]
    assert {pair["clientId"], pair["comparedWith"]} == {str(source.client_id), str(copy.client_id)}
    assert pair["verdict"] == "block" and pair["shared"]
    record = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    assert record["status"] == "DRAFT" and all(x["signedAt"] is None for x in record["signers"])


def test_another_members_name_in_a_section_blocks_signing_until_redacted(scenario: Scenario) -> None:
    """Naming another member in a member's section is flagged before it lands on that member's record."""
    s = scenario
    s.record_attendance()
    s.document()
    writer, named = s.group.members[4], s.group.members[5]
    content = member_content(writer)
    content["plan"] = (
        f"{content['plan']} Follow up on the conflict with {named.first_name} {named.last_name}."
    )
    s.save_section(writer.client_id, content)
    blocked = s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert blocked["__typename"] == "SigningBlocked" and blocked["code"] == "names_other_member"
    assert blocked["nameMentions"][0]["clientId"] == str(writer.client_id)
    assert blocked["nameMentions"][0]["mentionedClientId"] == str(named.client_id)
    s.save_section(writer.client_id, member_content(writer))
    assert (
        s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]["__typename"] == "RecordSigned"
    )


def test_signing_with_required_fields_empty_names_each_field_and_signs_nothing(scenario: Scenario) -> None:
    """Drafts may be incomplete; signing one is refused naming the empty fields."""
    s = scenario
    s.record_attendance()
    s.document()
    member = s.group.members[0]
    incomplete = {k: v for k, v in member_content(member).items() if k != "risk"}
    assert s.save_section(member.client_id, incomplete)["__typename"] == "RecordSaved"
    refused = s.lead.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert refused["__typename"] == "InvalidInput"
    assert {e["field"] for e in refused["errors"]} == {f"members[{member.client_id}].section.risk"}
    assert s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]["status"] == "DRAFT"


def test_bad_attendance_and_off_roster_sections_are_typed_errors_that_change_nothing(
    scenario: Scenario,
) -> None:
    """An arrival after the session ended and a section for a non-member are refused, naming the field."""
    s = scenario
    start = s._starts_at()
    entries = [{"clientId": str(m.client_id), "status": "PRESENT"} for m in s.group.members]
    entries[2] = {**entries[2], "status": "LATE", "arrivedAt": (start + timedelta(hours=3)).isoformat()}
    refused = s.lead.data(
        "RecordAttendance", "enrollment.graphql", input={"sessionId": s.sid, "entries": entries}
    )["recordAttendance"]
    assert refused["__typename"] == "InvalidInput" and refused["errors"][0]["field"] == "entries[2].arrivedAt"
    view = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    assert {m["attendance"] for m in view["members"]} == {None}
    stranger = s.save_section("5b0f7c1e-0000-4000-8000-000000000000", {"participation": "x"})
    assert stranger["__typename"] == "InvalidInput" and stranger["field"] == "clientId"


def test_who_sees_what_in_the_final_record(scenario: Scenario) -> None:
    """Facilitators and the supervisor read every section; the biller attendance only; an outsider nothing."""
    s = scenario
    _signed_final(s)
    for role in ("lead", "trainee", "supervisor"):
        view = s.callers[role].data("SessionRecord", sessionId=s.sid)["sessionRecord"]
        assert view["groupNote"]["theme"] == "distress_tolerance"
        assert all(m["section"] is not None and not m["sectionWithheld"] for m in view["members"]), role
    billing = s.biller.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    assert billing["groupNote"] is None and billing["groupNoteWithheld"] is True
    assert all(m["section"] is None and m["sectionWithheld"] for m in billing["members"])
    assert sorted(m["attendance"] for m in billing["members"]).count("NO_SHOW") == 1
    assert s.outsider.data("SessionRecord", sessionId=s.sid)["sessionRecord"] is None


def test_a_locked_record_takes_addenda_not_edits_and_a_removal_touches_one_member(scenario: Scenario) -> None:
    """After FINAL: edits refused, a dated addendum by its author, removal of one member keeps the others."""
    s = scenario
    _signed_final(s)
    member, other = s.group.members[0], s.group.members[1]
    refused = s.save_section(member.client_id, member_content(member))
    assert refused["__typename"] == "InvalidInput" and refused["code"] == "locked"
    added = s.lead.data(
        "AddRecordAddendum",
        input={
            "sessionId": s.sid,
            "clientId": str(member.client_id),
            "text": "Late entry: phone check-in at 16:00.",
        },
    )["addRecordAddendum"]
    assert added["__typename"] == "AddendumAdded" and added["addendum"]["createdAt"]
    outsider = s.outsider.run(
        "AddRecordAddendum", input={"sessionId": s.sid, "clientId": str(member.client_id), "text": "x"}
    )
    assert outsider["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    before = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    removed = s.lead.data(
        "RemoveMemberFromRecord",
        input={"sessionId": s.sid, "clientId": str(member.client_id), "reason": "Charted on the wrong group"},
    )["removeMemberFromRecord"]
    assert removed["__typename"] == "RecordSaved"
    after = s.lead.data("SessionRecord", sessionId=s.sid)["sessionRecord"]
    sections = {m["clientId"]: m["section"] for m in after["members"]}
    assert (
        sections[str(other.client_id)]
        == {m["clientId"]: m["section"] for m in before["members"]}[str(other.client_id)]
    )
    gone = next(m for m in after["members"] if m["clientId"] == str(member.client_id))
    assert gone["removedAt"] and gone["removalReason"] == "Charted on the wrong group"
    assert member.client_id not in s.billable() and len(s.billable()) == 6


def test_a_supervisor_returns_a_trainees_note_and_the_record_waits_for_a_new_signature(
    scenario: Scenario,
) -> None:
    """Returning withdraws the trainee's signature and keeps the reason; the trainee signs again."""
    s = scenario
    s.record_attendance()
    s.document()
    s.lead.data("SignSessionRecord", sessionId=s.sid)
    s.trainee.data("SignSessionRecord", sessionId=s.sid)
    trainee_id = str(s.group.staff["trainee"])
    returned = s.supervisor.data(
        "ReturnSessionRecord", sessionId=s.sid, traineeId=trainee_id, reason="Add the chain analysis for R."
    )["returnSessionRecord"]
    assert returned["__typename"] == "RecordSaved", returned
    record = returned["record"]
    assert record["status"] == "AWAITING_SIGNATURES"
    assert [x["role"] for x in record["signers"] if x["signedAt"]] == ["lead"]
    assert [n["text"] for n in record["supervisionNotes"]] == ["Add the chain analysis for R."]
    again = s.trainee.data("SignSessionRecord", sessionId=s.sid)["signSessionRecord"]
    assert again["record"]["status"] == "AWAITING_COSIGNATURE"


def test_a_risk_flag_from_the_record_is_resolved_once_by_a_clinician_who_may_read_the_member(
    scenario: Scenario,
) -> None:
    """The moderate-risk member's flag: an outsider is refused, the lead resolves it, twice is an error."""
    s = scenario
    _signed_final(s)
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        (flag_id,) = session.scalars(select(RiskFlag.id).where(RiskFlag.resolved_at.is_(None)))
    refused = s.outsider.run("ResolveRiskFlag", flagId=str(flag_id))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    resolved = s.lead.data("ResolveRiskFlag", flagId=str(flag_id))["resolveRiskFlag"]
    assert resolved["__typename"] == "RiskFlagResolved" and resolved["resolvedAt"]
    again = s.lead.data("ResolveRiskFlag", flagId=str(flag_id))["resolveRiskFlag"]
    assert again["__typename"] == "InvalidInput" and again["code"] == "already_resolved"
    with tenant_session(s.database.engine, s.clinic.schema_name) as session:
        flag = session.get_one(RiskFlag, flag_id)
    assert flag.resolved_by == s.group.staff["lead"]
