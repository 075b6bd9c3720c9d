"""Sending a member's record to another provider: Part 2 content only under consent, with the notice,
and every release in the member's accounting of disclosures (real PostgreSQL, through GraphQL).

The member is in a DBT group and in an SUD intensive outpatient program (a Part 2 program); both
programs' leads are on the member's care team, and the exporting clinician is the SUD counsellor.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select, update

from backend.billing.models import ClaimFormat, Payer
from backend.clients.models import Client, ClientDiagnosis
from backend.compliance.audit.events import AuditEvent
from backend.compliance.disclosures.models import DisclosureRow
from backend.compliance.disclosures.rules import FULL_NOTICE
from backend.compliance.part2.consents import RecipientKind
from backend.compliance.part2.models import Consent, ConsentRecipient
from backend.database import Database
from backend.documentation.models import MemberSection, SessionRecord
from backend.documentation.signoff import RecordStatus
from backend.documentation.templates import Scope
from backend.enrollment.models import Enrollment, EnrollmentStatus, SessionAttendee
from backend.enrollment.rules import Attendance
from backend.programs.models import LevelOfCare, Modality, Program, ProgramKind
from backend.scheduling.models import (
    FacilitatorRole,
    GroupSession,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.treatment.models import CareTeamMember
from tests.documentation.group_scenario import add_staff
from tests.support import Account, GraphQLClient, make_account
from tests.test_group_lifecycle import contract

FILE = "disclosures.graphql"
SUD_NOTE = "Named cravings after a family visit; rehearsed a refusal script for the weekend."
DBT_NOTE = "Used paced breathing twice this week; diary card shows urges down from 4 to 2."
PROVIDER = {"kind": "PROVIDER", "name": "Riverside Psychiatry"}


@dataclass
class Clinic:
    database: Database
    clinic: Tenant
    graphql: GraphQLClient
    accounts: dict[str, Account]
    member_id: uuid.UUID
    payer_id: uuid.UUID
    program_ids: dict[str, uuid.UUID]

    def run(self, role: str, operation: str, **variables: Any) -> Any:
        body = {"query": contract(operation, FILE), "operationName": operation, "variables": variables}
        headers = {"Authorization": f"Bearer {self.accounts[role].token}"}
        response = self.graphql.http.post("/graphql", json=body, headers=headers)
        assert response.status_code < 500, response.text
        return response.json()

    def data(self, role: str, operation: str, **variables: Any) -> Any:
        body = self.run(role, operation, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def export(self, role: str = "sud", recipient: Any = PROVIDER, purpose: str = "TREATMENT") -> Any:
        return self.data(
            role, "ExportMemberRecord", memberId=str(self.member_id), recipient=recipient, purpose=purpose
        )["exportMemberRecord"]

    def accounting(self, **window: str) -> Any:
        found = self.data("officer", "AccountingOfDisclosures", memberId=str(self.member_id), **window)
        return found["accountingOfDisclosures"]

    def consent(self, **changes: Any) -> uuid.UUID:
        """A TPO consent (treatment, payment, operations; all information), as recorded on paper."""
        values: dict[str, Any] = {
            "purposes": ["operations", "payment", "treatment"],
            "categories": ["all"],
            "starts_at": datetime.now(UTC) - timedelta(days=10),
            "ends_at": None,
            "end_event": "Revoked in writing",
        }
        recipients = changes.pop("recipients", [(RecipientKind.TPO, None)])
        values.update(changes)
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            consent = Consent(client_id=self.member_id, recorded_by=self.accounts["sud"].user_id, **values)
            session.add(consent)
            session.flush()
            for kind, recipient_id in recipients:
                session.add(ConsentRecipient(consent_id=consent.id, kind=kind, recipient_id=recipient_id))
            return consent.id

    def revoke(self, consent_id: uuid.UUID) -> None:
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            session.execute(
                update(Consent).where(Consent.id == consent_id).values(revoked_at=datetime.now(UTC))
            )

    def rows(self, model: Any) -> list[Any]:
        with tenant_session(self.database.engine, self.clinic.schema_name) as session:
            return list(session.scalars(select(model)))


def _session(
    session: Any, program_id: uuid.UUID, staff_id: uuid.UUID, member: uuid.UUID, days_ago: int, note: str
) -> None:
    starts = (datetime.now(UTC) - timedelta(days=days_ago)).replace(second=0, microsecond=0)
    group_session = GroupSession(
        id=uuid.uuid4(),
        program_id=program_id,
        kind=SessionKind.GROUP,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=90),
        status=SessionStatus.COMPLETED,
    )
    session.add(group_session)
    session.flush()
    session.add(SessionFacilitator(session_id=group_session.id, staff_id=staff_id, role=FacilitatorRole.LEAD))
    enrollment = session.scalar(
        select(Enrollment.id).where(Enrollment.client_id == member, Enrollment.program_id == program_id)
    )
    session.add(
        SessionAttendee(
            session_id=group_session.id,
            client_id=member,
            enrollment_id=enrollment,
            attendance=Attendance.PRESENT,
            minutes_attended=90,
        )
    )
    session.add(
        SessionRecord(
            session_id=group_session.id,
            template={},
            group_note={"theme": "skills practice", "activities": "Check-in, skills teaching, homework."},
            status=RecordStatus.FINAL,
            finalized_at=starts + timedelta(hours=2),
        )
    )
    session.flush()
    session.add(
        MemberSection(
            session_id=group_session.id, client_id=member, scope=Scope.MEMBER, content={"participation": note}
        )
    )


def _program(name: str, part2: bool, lead: uuid.UUID) -> Program:
    return Program(
        id=uuid.uuid4(),
        name=name,
        modality=Modality.PROCESS if part2 else Modality.DBT_SKILLS,
        kind=ProgramKind.OPEN,
        level_of_care=LevelOfCare.IOP if part2 else LevelOfCare.OUTPATIENT,
        capacity=12,
        therapeutic_minimum=2,
        default_cpt="90853",
        session_minutes=90,
        timezone="America/New_York",
        required_credentials=[],
        starts_on=date(2026, 1, 5),
        fit_criteria={},
        part2=part2,
        lead_facilitator_id=lead,
    )


def build_clinic(
    database: Database, settings: Settings, clinic: Tenant, graphql: GraphQLClient, member_count: int = 1
) -> Clinic:
    roles = {"dbt": "clinician", "sud": "clinician", "officer": "compliance_officer", "biller": "biller"}
    accounts = {name: make_account(database, settings, clinic, [role]) for name, role in roles.items()}
    with tenant_session(database.engine, clinic.schema_name) as session:
        dbt_staff = add_staff(session, "DBT Lead", accounts["dbt"].user_id)
        sud_staff = add_staff(session, "SUD Counselor", accounts["sud"].user_id)
        dbt, sud = _program("DBT skills", False, dbt_staff), _program("Recovery IOP", True, sud_staff)
        session.add_all([dbt, sud])
        payer = Payer(
            name="Medicaid MCO", payer_code=f"MCO{uuid.uuid4().hex[:6]}", claim_format=ClaimFormat("837P")
        )
        session.add(payer)
        members = []
        for i in range(member_count):
            member = Client(
                id=uuid.uuid4(), first_name="Maya", last_name=f"Lopez{i}", date_of_birth=date(1991, 3, 4)
            )
            session.add(member)
            session.flush()
            session.add_all(
                [
                    ClientDiagnosis(
                        client_id=member.id, code="F33.1", is_primary=True, noted_on=date(2026, 1, 5)
                    ),
                    ClientDiagnosis(
                        client_id=member.id, code="F10.20", is_primary=False, noted_on=date(2026, 2, 1)
                    ),
                    CareTeamMember(client_id=member.id, staff_id=sud_staff, since=date(2026, 1, 5)),
                    CareTeamMember(client_id=member.id, staff_id=dbt_staff, since=date(2026, 1, 5)),
                    *(
                        Enrollment(
                            id=uuid.uuid4(),
                            program_id=p.id,
                            client_id=member.id,
                            status=EnrollmentStatus.ACTIVE,
                            starts_on=date(2026, 1, 5),
                        )
                        for p in (dbt, sud)
                    ),
                ]
            )
            session.flush()
            _session(session, dbt.id, dbt_staff, member.id, 3, DBT_NOTE)
            _session(session, sud.id, sud_staff, member.id, 2, SUD_NOTE)
            members.append(member.id)
        payer_id = payer.id
        programs = {"dbt": dbt.id, "sud": sud.id}
    return Clinic(database, clinic, graphql, accounts, members[0], payer_id, programs)


@pytest.fixture
def scenario(
    database: Database, settings: Settings, make_clinic: Callable[..., Tenant], graphql: GraphQLClient
) -> Clinic:
    return build_clinic(database, settings, make_clinic(), graphql)


def bundle_of(result: dict[str, Any]) -> tuple[Bundle, str]:
    """The Bundle parsed back by fhir.resources, and its text with note attachments decoded."""
    text = result["bundle"]
    bundle = Bundle.model_validate_json(text)
    notes = [
        base64.b64decode(e["resource"]["content"][0]["attachment"]["data"]).decode()
        for e in json.loads(text)["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    return bundle, "\n".join([text, *notes])


def test_export_without_consent_leaves_part2_content_out_with_the_reason_and_records_no_disclosure(
    scenario: Clinic,
) -> None:
    """No consent: the Bundle holds the DBT note and depression diagnosis only; the response lists the
    SUD diagnosis, attendance and note as withheld for no_consent; nothing enters the accounting."""
    result = scenario.export()
    assert result["__typename"] == "MemberRecordExport"
    bundle, text = bundle_of(result)
    assert DBT_NOTE in text and "F33.1" in text
    assert SUD_NOTE not in text and "F10.20" not in text and "42CFRPart2" not in text
    assert not result["part2Included"] and result["notice"] is None and result["disclosures"] == []
    assert bundle.meta is None
    withheld = {(w["category"], w["part2"], w["reason"], w["count"]) for w in result["withheld"]}
    assert withheld == {
        ("DIAGNOSES", True, "NO_CONSENT", 1),
        ("ATTENDANCE", True, "NO_CONSENT", 1),
        ("NOTES", True, "NO_CONSENT", 1),
    }
    assert scenario.accounting()["disclosures"] == []
    assert scenario.rows(DisclosureRow) == []


def test_export_under_a_tpo_consent_includes_part2_content_with_the_notice_and_is_accounted(
    scenario: Clinic,
) -> None:
    """With a TPO consent the SUD note and diagnosis go, labelled 42CFRPart2 with the 2.32 notice and the
    consent's scope; one disclosure naming the consent appears in the member's accounting."""
    consent_id = scenario.consent()
    result = scenario.export()
    bundle, text = bundle_of(result)
    assert SUD_NOTE in text and "F10.20" in text and DBT_NOTE in text
    assert result["part2Included"] and result["notice"] == FULL_NOTICE and result["withheld"] == []
    assert "42CFRPart2" in {c.code for c in bundle.meta.security}  # type: ignore[union-attr]
    assert FULL_NOTICE.split(".")[0] in text and str(consent_id) in text
    (made,) = result["disclosures"]
    assert made["consentId"] == str(consent_id)
    assert made["description"] == (
        "member record export: 1 Part 2 session note, 1 Part 2 session attendance, 1 SUD diagnosis"
    )
    (listed,) = scenario.accounting()["disclosures"]
    assert listed["id"] == made["id"] and listed["consentId"] == str(consent_id)
    assert listed["recipient"] == {"kind": "PROVIDER", "id": None, "name": "Riverside Psychiatry"}
    assert (listed["purpose"], listed["channel"], listed["notice"]) == ("TREATMENT", "FHIR_EXPORT", "FULL")
    assert sorted(listed["categories"]) == ["ATTENDANCE", "DIAGNOSES", "NOTES"]
    assert listed["disclosedBy"] == str(scenario.accounts["sud"].user_id)
    assert listed["noticeText"] == FULL_NOTICE
    assert SUD_NOTE not in json.dumps(listed)


def test_after_revocation_part2_content_is_not_sent_again_and_the_earlier_release_stays_accounted(
    scenario: Clinic,
) -> None:
    """Revoked: the next export withholds Part 2 content naming the revoked consent; the accounting
    still lists the one release made while the consent was active, and nothing more."""
    consent_id = scenario.consent()
    scenario.export()
    scenario.revoke(consent_id)
    result = scenario.export()
    _, text = bundle_of(result)
    assert SUD_NOTE not in text and "F10.20" not in text and not result["part2Included"]
    assert {(w["reason"], w["consentId"]) for w in result["withheld"]} == {
        ("CONSENT_REVOKED", str(consent_id))
    }
    assert result["disclosures"] == []
    assert len(scenario.accounting()["disclosures"]) == 1


def test_an_expired_consent_releases_nothing_and_says_it_ended(scenario: Clinic) -> None:
    """A consent past its end date covers nothing: Part 2 content withheld with reason consent_expired."""
    now = datetime.now(UTC)
    scenario.consent(starts_at=now - timedelta(days=60), ends_at=now - timedelta(days=1))
    result = scenario.export()
    assert not result["part2Included"]
    assert {w["reason"] for w in result["withheld"]} == {"CONSENT_EXPIRED"}
    assert scenario.rows(DisclosureRow) == []


def test_a_consent_for_one_named_program_does_not_cover_an_outside_provider(scenario: Clinic) -> None:
    """A consent naming only the clinic's DBT program is not a consent to send Part 2 records elsewhere."""
    scenario.consent(recipients=[(RecipientKind.PROGRAM, scenario.program_ids["dbt"])])
    result = scenario.export()
    assert not result["part2Included"]
    assert {w["reason"] for w in result["withheld"]} == {"NO_CONSENT"}


def test_a_consent_naming_an_outside_organisation_covers_exports_to_it_and_no_other(scenario: Clinic) -> None:
    """Recorded through GraphQL, a consent naming "Riverside Psychiatry" lets the SUD note go there
    (the name written in other case and spacing too), and to "Harbor Clinic" nothing goes."""
    document = contract("RecordConsent", "part2.graphql")
    values = {
        "memberId": str(scenario.member_id),
        "recipients": [{"kind": "ORGANIZATION", "name": "Riverside Psychiatry"}],
        "purposes": ["TREATMENT"],
        "categories": ["ALL"],
        "endEvent": "end of the referral",
    }
    body = {"query": document, "operationName": "RecordConsent", "variables": {"input": values}}
    headers = {"Authorization": f"Bearer {scenario.accounts['sud'].token}"}
    recorded = scenario.graphql.http.post("/graphql", json=body, headers=headers).json()["data"][
        "recordConsent"
    ]
    assert recorded["__typename"] == "ConsentRecorded"
    assert recorded["consent"]["recipients"] == [
        {"kind": "ORGANIZATION", "id": None, "name": "Riverside Psychiatry"}
    ]

    named = scenario.export(recipient={"kind": "PROVIDER", "name": " riverside  psychiatry"})
    assert named["part2Included"] and SUD_NOTE in bundle_of(named)[1]
    assert named["disclosures"][0]["consentId"] == recorded["consent"]["id"]
    other = scenario.export(recipient={"kind": "PROVIDER", "name": "Harbor Clinic"})
    assert not other["part2Included"] and {w["reason"] for w in other["withheld"]} == {"NO_CONSENT"}

    values["recipients"] = [{"kind": "ORGANIZATION", "name": "  "}]
    refused = scenario.graphql.http.post("/graphql", json=body, headers=headers).json()["data"][
        "recordConsent"
    ]
    assert (refused["__typename"], refused["field"], refused["code"]) == (
        "InvalidInput",
        "recipients[0]",
        "invalid",
    )


def test_the_exporter_sends_only_part2_content_they_may_read(scenario: Clinic) -> None:
    """A consent to the payer for payment covers the payer, but a DBT clinician outside the SUD program
    (and not named by any consent) may not read the Part 2 content, so it is withheld as not_permitted."""
    scenario.consent(purposes=["payment"], recipients=[(RecipientKind.PAYER, scenario.payer_id)])
    result = scenario.export("dbt", {"kind": "PAYER", "id": str(scenario.payer_id)}, "PAYMENT")
    _, text = bundle_of(result)
    assert SUD_NOTE not in text and "F10.20" not in text and not result["part2Included"]
    part2 = {(w["category"], w["reason"]) for w in result["withheld"] if w["part2"]}
    assert ("NOTES", "NOT_PERMITTED") in part2 and ("DIAGNOSES", "NOT_PERMITTED") in part2
    assert scenario.rows(DisclosureRow) == []


def test_a_consent_to_the_payer_for_payment_lets_the_sud_counsellor_send_it(scenario: Clinic) -> None:
    """The same payer consent, exported by the SUD counsellor to that payer for payment, is a disclosure
    recorded with the payer's name."""
    consent_id = scenario.consent(purposes=["payment"], recipients=[(RecipientKind.PAYER, scenario.payer_id)])
    result = scenario.export("sud", {"kind": "PAYER", "id": str(scenario.payer_id)}, "PAYMENT")
    assert result["part2Included"]
    (made,) = result["disclosures"]
    assert made["recipient"]["name"] == "Medicaid MCO" and made["consentId"] == str(consent_id)


@pytest.mark.parametrize(
    ("variables", "typename", "field"),
    [
        ({"memberId": str(uuid.uuid4()), "recipient": PROVIDER}, "NotFound", "memberId"),
        ({"memberId": "not-an-id", "recipient": PROVIDER}, "InvalidInput", "memberId"),
        ({"recipient": None}, "InvalidInput", "recipient"),
        ({"recipient": {"kind": "PROVIDER", "name": "  "}}, "InvalidInput", "recipient.name"),
        ({"recipient": {"kind": "PROGRAM"}}, "InvalidInput", "recipient.id"),
        ({"recipient": {"kind": "PROGRAM", "id": str(uuid.uuid4())}}, "NotFound", "recipient.id"),
    ],
)
def test_bad_export_input_names_the_field_and_discloses_nothing(
    scenario: Clinic, variables: dict[str, Any], typename: str, field: str
) -> None:
    """Unknown member, missing or incomplete recipient, unknown recipient: a typed error, no disclosure."""
    scenario.consent()
    arguments = {"memberId": str(scenario.member_id), "purpose": "TREATMENT", **variables}
    result = scenario.data("sud", "ExportMemberRecord", **arguments)["exportMemberRecord"]
    assert (result["__typename"], result["field"]) == (typename, field)
    assert scenario.rows(DisclosureRow) == []


def test_only_the_roles_of_the_policy_export_or_read_the_accounting(scenario: Clinic) -> None:
    """A biller may not export a record; a clinician may not read the accounting of disclosures."""
    biller = scenario.run(
        "biller",
        "ExportMemberRecord",
        memberId=str(scenario.member_id),
        recipient=PROVIDER,
        purpose="TREATMENT",
    )
    assert biller["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    clinician = scenario.run("sud", "AccountingOfDisclosures", memberId=str(scenario.member_id))
    assert clinician["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_exports_and_accounting_reads_are_audited_against_the_member(scenario: Clinic) -> None:
    """The export (a read of the record, each note sent, the disclosure created) and the accounting and
    its CSV are audit events naming the member."""
    scenario.consent()
    scenario.export()
    scenario.accounting()
    scenario.data("officer", "AccountingOfDisclosuresCsv", memberId=str(scenario.member_id))
    events = {
        (e.action, e.resource_type) for e in scenario.rows(AuditEvent) if e.member_id == scenario.member_id
    }
    assert {
        ("read", "member_record_export"),
        ("read", "member_section"),
        ("create", "disclosure"),
        ("read", "disclosure_accounting"),
        ("export", "disclosure_accounting"),
    } <= events
