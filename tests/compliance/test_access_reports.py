"""The compliance officer's access reports through GraphQL: who read a member's record, what a user read,
reads outside a care relationship, CSV export, verification; audited, and refused to other roles."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session
from strawberry.relay import to_base64

from backend.compliance.audit.access_reports import CSV_COLUMNS
from backend.compliance.audit.care_relationship import related_pairs
from backend.database import Database
from backend.graphql.contract import OPERATIONS_DIR
from backend.identity.models import Membership
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import CareTeamMember
from tests.compliance.audit_support import tamper, unsealed
from tests.documentation.group_scenario import Group, add_staff, make_group
from tests.support import Account, GraphQLClient, make_account

OPERATIONS = (OPERATIONS_DIR / "compliance.graphql").read_text()
READ_CLIENT = "query($id: ID!) { node(id: $id) { id ... on Client { firstName } } }"


@dataclass
class Clinic:
    """A DBT group (lead, trainee supervised by supervisor), an unrelated clinician, the officer."""

    graphql: GraphQLClient
    database: Database
    tenant: Tenant
    group: Group
    accounts: dict[str, Account]

    def run(self, who: str, operation: str, **variables: Any) -> Any:
        body = {"query": OPERATIONS, "operationName": operation, "variables": variables}
        headers = {"Authorization": f"Bearer {self.accounts[who].token}"}
        return self.graphql.http.post("/graphql", json=body, headers=headers).json()

    def data(self, who: str, operation: str, **variables: Any) -> Any:
        body = self.run(who, operation, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def report(self, operation: str, **variables: Any) -> list[dict[str, Any]]:
        """The officer runs a report: its events."""
        field = operation[0].lower() + operation[1:]
        return nodes(self.data("officer", operation, **variables)[field])

    def read_member(self, who: str, member: int = 0) -> None:
        member_id = to_base64("Client", str(self.group.members[member].client_id))
        data = self.graphql.data(READ_CLIENT, {"id": member_id}, self.accounts[who].token)
        assert data["node"]["firstName"] == self.group.members[member].first_name

    def member_id(self, member: int = 0) -> str:
        return str(self.group.members[member].client_id)

    def user_id(self, who: str) -> str:
        return str(self.accounts[who].user_id)


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


@pytest.fixture
def clinic(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> Clinic:
    tenant = make_clinic()
    roles = {
        "lead": "clinician",
        "trainee": "trainee",
        "supervisor": "supervisor",
        "outsider": "clinician",
        "officer": "compliance_officer",
        "front_desk": "front_desk",
        "admin": "tenant_admin",
    }
    accounts = {who: make_account(database, settings, tenant, [role]) for who, role in roles.items()}
    users = {who: accounts[who].user_id for who in ("lead", "trainee", "supervisor")}
    group = make_group(database.engine, tenant.schema_name, users, size=3)
    return Clinic(graphql, database, tenant, group, accounts)


def test_the_officer_sees_a_clinicians_read_of_a_members_record_made_a_moment_ago(clinic: Clinic) -> None:
    """The lead reads a member; the member's report (sealing first) shows that read, within care."""
    clinic.read_member("lead")
    (event,) = clinic.report("MemberAccessReport", memberId=clinic.member_id())
    assert event["userId"] == clinic.user_id("lead")
    assert event["userDisplayName"] == "Staff Member"
    assert (event["action"], event["resourceType"], event["memberId"]) == (
        "read",
        "client",
        clinic.member_id(),
    )
    assert event["roles"] == ["clinician"] and event["readable"] is True
    assert event["outsideCareRelationship"] is False
    assert (
        unsealed(clinic.database, clinic.tenant) <= 1
    )  # only the report's own audit event, if not sealed yet


def test_a_read_by_staff_without_a_care_relationship_appears_in_the_outside_care_report(
    clinic: Clinic,
) -> None:
    """Facilitators and the facilitating trainee's supervisor read within care; an unrelated clinician not."""
    for who in ("lead", "trainee", "supervisor", "outsider"):
        clinic.read_member(who)
    report = nodes(clinic.data("officer", "OutsideCareAccessReport")["outsideCareAccessReport"])
    assert [(e["userId"], e["memberId"]) for e in report] == [
        (clinic.user_id("outsider"), clinic.member_id())
    ]
    assert report[0]["outsideCareRelationship"] is True
    one_user = clinic.data("officer", "OutsideCareAccessReport", userId=clinic.user_id("lead"))
    assert nodes(one_user["outsideCareAccessReport"]) == []


def test_what_a_user_accessed_lists_only_that_users_reads_within_the_time_range(clinic: Clinic) -> None:
    """The outsider's two reads (two members) are listed newest first; a range after them is empty."""
    clinic.read_member("outsider", 0)
    clinic.read_member("outsider", 1)
    clinic.read_member("lead", 2)
    listed = nodes(
        clinic.data("officer", "UserAccessReport", userId=clinic.user_id("outsider"))["userAccessReport"]
    )
    assert [e["memberId"] for e in listed] == [clinic.member_id(1), clinic.member_id(0)]
    assert {e["userId"] for e in listed} == {clinic.user_id("outsider")}
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert clinic.report("UserAccessReport", userId=clinic.user_id("outsider"), since=later) == []


def test_the_reports_own_reads_are_audited_and_show_in_the_log(clinic: Clinic) -> None:
    """Reading a member's report is itself an access to that member's information, by the officer."""
    clinic.read_member("lead")
    clinic.data("officer", "MemberAccessReport", memberId=clinic.member_id())
    clinic.data("officer", "OutsideCareAccessReport")
    second = nodes(
        clinic.data("officer", "MemberAccessReport", memberId=clinic.member_id())["memberAccessReport"]
    )
    assert [(e["userId"], e["action"], e["resourceType"], e["resourceId"]) for e in second] == [
        (clinic.user_id("officer"), "read", "audit_report", "member_access"),
        (clinic.user_id("lead"), "read", "client", clinic.member_id()),
    ]
    assert second[0]["outsideCareRelationship"] is False  # reading the log is not a read of the record
    officer = nodes(
        clinic.data("officer", "UserAccessReport", userId=clinic.user_id("officer"))["userAccessReport"]
    )
    assert [e["resourceId"] for e in officer] == ["member_access", "outside_care", "member_access"]


@pytest.mark.parametrize("who", ["lead", "supervisor", "front_desk", "admin"])
def test_roles_other_than_the_compliance_officer_are_refused_every_report(clinic: Clinic, who: str) -> None:
    """Clinical, front-desk and admin roles get FORBIDDEN from each report, the export and verification."""
    calls = {
        "MemberAccessReport": {"memberId": clinic.member_id()},
        "UserAccessReport": {"userId": clinic.user_id("lead")},
        "OutsideCareAccessReport": {},
        "AccessReportCsv": {"report": "OUTSIDE_CARE"},
        "VerifyAuditLog": {},
    }
    for operation, variables in calls.items():
        body = clinic.run(who, operation, **variables)
        assert body["data"] is None, operation
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], operation


def test_the_csv_export_holds_the_reports_rows_and_is_audited_as_an_export(clinic: Clinic) -> None:
    """The member's report as CSV: our columns, one row per access; the export is then in the log."""
    clinic.read_member("lead")
    clinic.read_member("outsider")
    export = clinic.data("officer", "AccessReportCsv", report="MEMBER_ACCESS", memberId=clinic.member_id())
    result = export["accessReportCsv"]
    rows = list(csv.reader(io.StringIO(result["csv"])))
    assert rows[0] == list(CSV_COLUMNS)
    body = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [(r["user_id"], r["action"], r["outside_care_relationship"]) for r in body] == [
        (clinic.user_id("outsider"), "read", "true"),
        (clinic.user_id("lead"), "read", "false"),
    ]
    assert (result["rowCount"], result["truncated"], result["contentType"]) == (2, False, "text/csv")
    assert result["filename"] == "member-access-report.csv"
    later = nodes(
        clinic.data("officer", "MemberAccessReport", memberId=clinic.member_id())["memberAccessReport"]
    )
    assert (later[0]["action"], later[0]["resourceType"]) == ("export", "audit_report")


def test_an_export_needs_the_argument_its_report_is_about(clinic: Clinic) -> None:
    """A member's report without memberId is a BAD_USER_INPUT error naming memberId."""
    body = clinic.run("officer", "AccessReportCsv", report="MEMBER_ACCESS")
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", "memberId")
    ]


def test_pages_follow_each_other_without_gaps_or_repeats(clinic: Clinic) -> None:
    """Seven reads in pages of three: 3 + 3 + 1, newest first, each once."""
    for _ in range(7):
        clinic.read_member("lead")
    seen: list[int] = []
    after = None
    for _ in range(3):
        page = clinic.data("officer", "UserAccessReport", userId=clinic.user_id("lead"), first=3, after=after)
        connection = page["userAccessReport"]
        seen += [e["position"] for e in nodes(connection)]
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    assert connection["pageInfo"]["hasNextPage"] is False


def test_a_forged_cursor_or_an_empty_time_range_is_refused_naming_the_argument(clinic: Clinic) -> None:
    """`after` that is not a cursor and `until` not after `since` are BAD_USER_INPUT with the field."""
    forged = clinic.run("officer", "OutsideCareAccessReport", after="bm90LWEtY3Vyc29y")
    now = datetime.now(UTC).isoformat()
    empty = clinic.run("officer", "OutsideCareAccessReport", since=now, until=now)
    for body, field in ((forged, "after"), (empty, "until")):
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
            ("BAD_USER_INPUT", field)
        ]


def test_verify_audit_log_reports_ok_then_the_first_deleted_position(clinic: Clinic) -> None:
    """After three reads the chain verifies; with its second entry deleted, deleted at 2."""
    for who in ("lead", "trainee", "outsider"):
        clinic.read_member(who)
    clinic.data("officer", "OutsideCareAccessReport")  # seals
    intact = clinic.data("officer", "VerifyAuditLog")["verifyAuditLog"]
    assert intact["ok"] is True and intact["problem"] is None and intact["entriesChecked"] >= 3
    tamper(clinic.database, clinic.tenant, ["DELETE FROM {entries} WHERE seq = 2"])
    broken = clinic.data("officer", "VerifyAuditLog")["verifyAuditLog"]
    assert broken["ok"] is False
    assert (broken["problem"]["position"], broken["problem"]["kind"]) == (2, "DELETED")


def test_once_sealed_the_database_holds_no_member_or_user_id_in_clear(clinic: Clinic) -> None:
    """After sealing, no audit table row mentions the member's or the reader's id, in text or bytes."""
    clinic.read_member("outsider")
    clinic.data("officer", "OutsideCareAccessReport")
    clinic.data("officer", "OutsideCareAccessReport")  # seals the first report's own event too
    schema = clinic.tenant.schema_name
    member = clinic.group.members[0].client_id
    user = clinic.accounts["outsider"].user_id
    with clinic.database.engine.connect() as connection:
        for table in ("sealed_audit_entries", "audit_checkpoints", "audit_chain_head"):
            dump = connection.execute(
                text(f"SELECT coalesce(string_agg(t::text, ''), '') FROM \"{schema}\".{table} t")
            )
            content = dump.scalar_one()
            for needle in (str(member), member.hex, str(user), user.hex):
                assert needle not in content, table
        remaining = connection.execute(
            text(f'SELECT count(*) FROM "{schema}".audit_events WHERE member_id IS NOT NULL')
        )
        assert remaining.scalar_one() == 0


def test_a_care_relationship_also_comes_from_the_care_team_its_supervisor_and_being_the_member(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """On the care team, supervising someone on it, or the member signed in: related; a stranger is not."""
    tenant = make_clinic()
    who = {name: make_account(database, settings, tenant, ["clinician"]).user_id for name in ROLES}
    leaders = {r: who[r] for r in ("lead", "trainee", "supervisor")}
    group = make_group(database.engine, tenant.schema_name, leaders)
    member, other = group.members[0].client_id, group.members[1].client_id
    with tenant_session(database.engine, tenant.schema_name) as session:
        boss = add_staff(session, "Clinical Director", who["director"])
        carer = add_staff(session, "Therapist", who["carer"], supervisor=boss)
        session.add(CareTeamMember(client_id=member, staff_id=carer, since=date(2026, 1, 5)))
    with Session(database.engine) as session, session.begin():
        session.execute(
            update(Membership)
            .where(Membership.user_id == who["member"], Membership.tenant_id == tenant.id)
            .values(client_id=member)
        )
    asked = {(who[name], member) for name in ("carer", "director", "member", "stranger", "trainee")}
    asked |= {(who["carer"], other), (who["member"], other)}
    with tenant_session(database.engine, tenant.schema_name) as session:
        related = related_pairs(session, asked, tenant.id)
    assert related == {(who[name], member) for name in ("carer", "director", "member", "trainee")}


ROLES = ("lead", "trainee", "supervisor", "carer", "director", "member", "stranger")
