"""Intake through GraphQL: the admin's form, submitted screening, pending baseline measures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.compliance.audit.events import AuditEvent
from backend.database import Database
from backend.intake.models import IntakeResponse, IntakeTask
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from backend.waitlist.models import WaitlistEntry
from tests.support import GraphQLClient, make_account
from tests.waitlist.factories import make_client, make_entry, make_program, make_session

SET_FORM = """mutation($id: ID!, $questions: [IntakeQuestionInput!]!, $measures: [String!]!) {
  setIntakeForm(programId: $id, questions: $questions, baselineMeasures: $measures) {
    __typename
    ... on IntakeForm { baselineMeasures questions { key kind required contraindicationIf } }
    ... on InvalidInput { errors { field code } }
  } }"""
SUBMIT = """mutation($input: SubmitIntakeInput!) { submitIntake(input: $input) {
  __typename
  ... on IntakeSubmitted {
    response { answers contraindications } pendingTasks { instrumentCode dueBefore status }
  }
  ... on UserError { field code }
  ... on InvalidInput { errors { field code } }
} }"""
CLIENT_INTAKE = """query($id: ID!) { clientIntake(clientId: $id) {
  responses { programId answers contraindications } pendingTasks { instrumentCode status } } }"""
FORM = "query($id: ID!) { intakeForm(programId: $id) { baselineMeasures questions { key kind required } } }"
TASKS = "query($id: ID!) { intakeTasks(clientId: $id) { instrumentCode dueBefore } }"
QUESTIONS = [
    {
        "key": "active_psychosis",
        "prompt": "Psychotic symptoms now?",
        "kind": "BOOLEAN",
        "required": True,
        "contraindicationIf": "true",
    },
    {"key": "phq9_total", "prompt": "PHQ-9 total", "kind": "NUMBER", "required": True},
    {"key": "goals", "prompt": "Goals", "kind": "TEXT"},
]


def _program_with_form(
    graphql: GraphQLClient, database: Database, settings: Settings, clinic: Tenant
) -> tuple[Any, Any, datetime]:
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    first_session = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session)
        make_session(session, program, first_session)
        make_session(session, program, first_session + timedelta(days=7))
        client = make_client(session)
    variables = {"id": str(program.id), "questions": QUESTIONS, "measures": ["phq-9", "GAD-7"]}
    form = graphql.data(SET_FORM, variables, admin.token)["setIntakeForm"]
    assert form["__typename"] == "IntakeForm" and form["baselineMeasures"] == ["PHQ-9", "GAD-7"]
    front_desk = make_account(database, settings, clinic, ["front_desk"])
    shown = graphql.data(FORM, {"id": str(program.id)}, front_desk.token)["intakeForm"]
    assert [q["key"] for q in shown["questions"]] == ["active_psychosis", "phq9_total", "goals"]
    return program, client, first_session


def test_only_tenant_admins_configure_and_bad_forms_name_the_field(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A clinician is refused; a choice question without choices is questions[0].choices."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        program = make_program(session)
    bad = [{"key": "shift", "prompt": "Shift", "kind": "CHOICE"}]
    variables = {"id": str(program.id), "questions": bad, "measures": []}
    assert (
        graphql.execute(SET_FORM, variables, clinician.token)["errors"][0]["extensions"]["code"]
        == "FORBIDDEN"
    )
    result = graphql.data(SET_FORM, variables, admin.token)["setIntakeForm"]
    assert result["errors"] == [{"field": "questions[0].choices", "code": "required"}]


def test_missing_required_answers_are_named_and_nothing_is_written(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Unanswered required questions are answers.<key>; no response and no task is stored."""
    clinic = make_clinic()
    program, client, _ = _program_with_form(graphql, database, settings, clinic)
    staff = make_account(database, settings, clinic, ["front_desk"])
    variables = {
        "input": {
            "programId": str(program.id),
            "clientId": str(client.id),
            "answers": [{"key": "goals", "value": "sleep"}],
        }
    }
    result = graphql.data(SUBMIT, variables, staff.token)["submitIntake"]
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("answers.active_psychosis", "required"),
        ("answers.phq9_total", "required"),
    }
    with tenant_session(database.engine, clinic.schema_name) as session:
        assert session.scalars(select(IntakeResponse)).all() == []
        assert session.scalars(select(IntakeTask)).all() == []


def test_submitted_intake_records_contraindications_tasks_and_is_visible_in_the_record(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """The waitlist entry gets the screening, tasks are due before the first session, reads are audited."""
    clinic = make_clinic()
    program, client, first_session = _program_with_form(graphql, database, settings, clinic)
    staff = make_account(database, settings, clinic, ["clinician"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        entry_id = make_entry(session, program, client).id
    answers = [{"key": "active_psychosis", "value": "true"}, {"key": "phq9_total", "value": "14"}]
    variables = {"input": {"programId": str(program.id), "clientId": str(client.id), "answers": answers}}
    result = graphql.data(SUBMIT, variables, staff.token)["submitIntake"]
    assert result["response"] == {
        "answers": {"active_psychosis": True, "phq9_total": 14},
        "contraindications": ["active_psychosis"],
    }
    assert [t["instrumentCode"] for t in result["pendingTasks"]] == ["GAD-7", "PHQ-9"]
    assert {datetime.fromisoformat(t["dueBefore"]) for t in result["pendingTasks"]} == {first_session}
    # Resubmitting (e.g. after the episode resolved) replaces the screening without duplicating tasks.
    graphql.data(SUBMIT, variables, staff.token)
    with tenant_session(database.engine, clinic.schema_name) as session:
        entry = session.get_one(WaitlistEntry, entry_id)
        assert entry.contraindications == ["active_psychosis"] and entry.screening["phq9_total"] == 14
        assert len(session.scalars(select(IntakeTask)).all()) == 2
    record = graphql.data(CLIENT_INTAKE, {"id": str(client.id)}, staff.token)["clientIntake"]
    assert len(record["responses"]) == 2 and len(record["pendingTasks"]) == 2
    assert len(graphql.data(TASKS, {"id": str(client.id)}, staff.token)["intakeTasks"]) == 2
    with tenant_session(database.engine, clinic.schema_name) as session:
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.member_id == client.id, AuditEvent.action == "read")
        ).all()
    assert {a.resource_type for a in reads} == {"client_intake", "intake_task"}


def test_a_program_without_a_form_cannot_take_intake(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """submitIntake for a program with no form is programId / no_intake_form."""
    clinic = make_clinic()
    staff = make_account(database, settings, clinic, ["front_desk"])
    with tenant_session(database.engine, clinic.schema_name) as session:
        program, client = make_program(session), make_client(session)
    variables = {"input": {"programId": str(program.id), "clientId": str(client.id), "answers": []}}
    result = graphql.data(SUBMIT, variables, staff.token)["submitIntake"]
    assert (result["field"], result["code"]) == ("programId", "no_intake_form")
