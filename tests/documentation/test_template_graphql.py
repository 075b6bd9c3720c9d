"""Note templates through GraphQL: the admin configures, clinicians read, bad templates store nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from backend.database import Database
from backend.documentation.models import StoredTemplate
from backend.settings import Settings
from backend.tenants.models import Tenant
from backend.tenants.routing import tenant_session
from tests.support import GraphQLClient, make_account

TEMPLATE = """modality name isDefault
  sections { key label scope fields { key label kind required prompt choices } }"""
READ = "query($m: Modality!) { noteTemplate(modality: $m) { " + TEMPLATE + " } }"
READ_ALL = "query { noteTemplates { modality isDefault } }"
PROBLEM = "... on InvalidInput { field code errors { field code } }"
SET = (
    "mutation($m: Modality!, $t: NoteTemplateInput!) { setNoteTemplate(modality: $m, template: $t) { "
    + f"__typename ... on NoteTemplateResult {{ template {{ {TEMPLATE} }} }} {PROBLEM} }} }}"
)
RESET = (
    "mutation($m: Modality!) { resetNoteTemplate(modality: $m) { "
    + f"__typename ... on NoteTemplateResult {{ template {{ {TEMPLATE} }} }} {PROBLEM} }} }}"
)


def _as_input(template: dict[str, Any]) -> dict[str, Any]:
    """A template as read, turned into NoteTemplateInput (what an admin screen sends back)."""
    return {
        "name": template["name"],
        "sections": [
            {
                "key": s["key"],
                "label": s["label"],
                "scope": s["scope"],
                "fields": [{k: v for k, v in f.items()} for f in s["fields"]],
            }
            for s in template["sections"]
        ],
    }


def _stored(database: Database, clinic: Tenant) -> list[StoredTemplate]:
    with tenant_session(database.engine, clinic.schema_name) as session:
        return list(session.scalars(select(StoredTemplate)))


def test_a_biller_cannot_read_templates_and_a_clinician_cannot_change_them(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Templates are configured by the tenant admin only; billing staff have no use for them."""
    clinic = make_clinic()
    biller = make_account(database, settings, clinic, ["biller"])
    clinician = make_account(database, settings, clinic, ["clinician"])
    body = graphql.execute(READ, {"m": "CBT"}, biller.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    default = graphql.data(READ, {"m": "CBT"}, clinician.token)["noteTemplate"]
    body = graphql.execute(SET, {"m": "CBT", "t": _as_input(default)}, clinician.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _stored(database, clinic) == []


def test_the_admin_sets_a_template_and_clinicians_document_with_it(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An added required choice field is served to clinicians; other modalities keep the built-in one."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_account(database, settings, clinic, ["clinician"])
    default = graphql.data(READ, {"m": "DBT_SKILLS"}, clinician.token)["noteTemplate"]
    assert default["isDefault"] is True and default["name"] == "DBT skills group"
    edited = _as_input(default)
    edited["name"] = "DBT skills (adolescent)"
    edited["sections"][1]["fields"].append(
        {"key": "caregiver_coaching", "label": "Caregiver coaching", "kind": "CHOICE", "required": True,
         "prompt": "Was a caregiver coached this week?", "choices": ["yes", "no", "not_applicable"]}
    )  # fmt: skip
    saved = graphql.data(SET, {"m": "DBT_SKILLS", "t": edited}, admin.token)["setNoteTemplate"]
    assert saved["__typename"] == "NoteTemplateResult" and saved["template"]["isDefault"] is False

    served = graphql.data(READ, {"m": "DBT_SKILLS"}, clinician.token)["noteTemplate"]
    assert (served["name"], served["modality"], served["isDefault"]) == (
        "DBT skills (adolescent)",
        "DBT_SKILLS",
        False,
    )
    added = served["sections"][1]["fields"][-1]
    assert (added["key"], added["kind"], added["required"], added["choices"]) == (
        "caregiver_coaching",
        "CHOICE",
        True,
        ["yes", "no", "not_applicable"],
    )
    listed = graphql.data(READ_ALL, token=clinician.token)["noteTemplates"]
    assert {t["modality"]: t["isDefault"] for t in listed} == {
        "DBT_SKILLS": False,
        "PROCESS": True,
        "CBT": True,
        "PSYCHOEDUCATION": True,
        "MULTI_FAMILY": True,
        "OTHER": True,
    }
    assert [(row.modality, row.updated_by) for row in _stored(database, clinic)] == [
        ("dbt_skills", admin.user_id)
    ]


def test_an_invalid_template_is_refused_naming_the_field_and_nothing_is_stored(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """Choices on a text field and a member section without a required risk field are both named."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    default = graphql.data(READ, {"m": "PROCESS"}, admin.token)["noteTemplate"]
    bad = _as_input(default)
    bad["sections"][1]["fields"][0]["choices"] = ["engaged"]
    for field in bad["sections"][1]["fields"]:
        if field["kind"] == "RISK":
            field["required"] = False
    result = graphql.data(SET, {"m": "PROCESS", "t": bad}, admin.token)["setNoteTemplate"]
    assert result["__typename"] == "InvalidInput"
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("template.sections[1].fields[0].choices", "not_allowed"),
        ("template.sections", "risk_required"),
    }
    assert _stored(database, clinic) == []
    served = graphql.data(READ, {"m": "PROCESS"}, admin.token)["noteTemplate"]
    assert served == default


def test_resetting_returns_to_the_built_in_template(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """After a reset the modality is served its built-in template and no stored copy remains."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    default = graphql.data(READ, {"m": "CBT"}, admin.token)["noteTemplate"]
    edited = copy.deepcopy(_as_input(default))
    edited["name"] = "CBT for insomnia"
    assert graphql.data(SET, {"m": "CBT", "t": edited}, admin.token)["setNoteTemplate"]["template"][
        "name"
    ] == ("CBT for insomnia")
    reset = graphql.data(RESET, {"m": "CBT"}, admin.token)["resetNoteTemplate"]
    assert reset["template"] == default
    assert graphql.data(READ, {"m": "CBT"}, admin.token)["noteTemplate"] == default
    assert _stored(database, clinic) == []
