"""A tenant admin turns on the clinic's MFA rule through GraphQL; it binds that clinic only."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from tests.identity.flows import login, make_person
from tests.support import GraphQLClient, make_account

UPDATE = """mutation($input: ClinicSettingsInput!) { updateClinicSettings(input: $input) {
  __typename ... on ClinicSettings { slug requireMfa timezone absenceThreshold autoDropAbsentMembers }
  ... on InvalidInput { errors { field code } } } }"""
READ = "{ clinicSettings { requireMfa timezone absenceThreshold autoDropAbsentMembers } }"


def test_admin_requiring_mfa_sends_the_clinics_staff_through_mfa_at_next_sign_in(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """After `requireMfa: true`, a clinician's login answers MfaRequired; another clinic is untouched."""
    clinic, other = make_clinic("A"), make_clinic("B")
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_person(database, [(clinic, ["clinician"])], None)
    assert login(graphql, clinician.email, clinician.password)["__typename"] == "AuthSession"

    result = graphql.data(UPDATE, {"input": {"requireMfa": True}}, admin.token)["updateClinicSettings"]
    assert (result["slug"], result["requireMfa"], result["timezone"]) == (
        clinic.slug,
        True,
        "America/New_York",
    )
    assert login(graphql, clinician.email, clinician.password)["__typename"] == "MfaRequired"
    with Session(database.engine) as session:
        assert session.get_one(Tenant, other.id).require_mfa is False


def test_only_tenant_admins_configure_the_clinic(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """A clinician asking to change clinic settings is FORBIDDEN and nothing changes."""
    clinic = make_clinic()
    clinician = make_account(database, settings, clinic, ["clinician", "supervisor"])
    body = graphql.execute(UPDATE, {"input": {"requireMfa": True}}, clinician.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with Session(database.engine) as session:
        assert session.get_one(Tenant, clinic.id).require_mfa is False


def test_bad_settings_are_rejected_by_field_and_nothing_changes(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """An unknown time zone and a threshold of 1 are named; the valid part is not applied either."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    bad = {"requireMfa": True, "timezone": "Mars/Olympus", "absenceThreshold": 1}
    result = graphql.data(UPDATE, {"input": bad}, admin.token)["updateClinicSettings"]
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("timezone", "unknown_timezone"),
        ("absenceThreshold", "too_small"),
    }
    current = graphql.data("{ clinicSettings { requireMfa timezone absenceThreshold } }", token=admin.token)
    assert current["clinicSettings"] == {
        "requireMfa": False,
        "timezone": "America/New_York",
        "absenceThreshold": 3,
    }


def test_admin_enables_automatic_drop_of_absent_members(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """The clinic's absence rule is configurable and read back by staff."""
    clinic = make_clinic()
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_account(database, settings, clinic, ["clinician"])
    change = {"autoDropAbsentMembers": True, "absenceThreshold": 4, "timezone": "America/Chicago"}
    assert graphql.data(UPDATE, {"input": change}, admin.token)["updateClinicSettings"][
        "autoDropAbsentMembers"
    ]
    seen = graphql.data(
        "{ clinicSettings { autoDropAbsentMembers absenceThreshold timezone } }", token=clinician.token
    )
    assert seen["clinicSettings"] == {
        "autoDropAbsentMembers": True,
        "absenceThreshold": 4,
        "timezone": "America/Chicago",
    }
