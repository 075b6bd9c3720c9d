"""A tenant admin turns on the clinic's MFA rule through GraphQL; it binds that clinic only."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from backend.database import Database
from backend.settings import Settings
from backend.tenants.models import Tenant
from tests.identity.flows import login, make_person
from tests.support import GraphQLClient, make_account

UPDATE = (
    """mutation($input: ClinicSettingsInput!) { updateClinicSettings(input: $input) { slug requireMfa } }"""
)


def test_admin_requiring_mfa_sends_the_clinics_staff_through_mfa_at_next_sign_in(
    graphql: GraphQLClient, database: Database, settings: Settings, make_clinic: Callable[..., Tenant]
) -> None:
    """After `requireMfa: true`, a clinician's login answers MfaRequired; another clinic is untouched."""
    clinic, other = make_clinic("A"), make_clinic("B")
    admin = make_account(database, settings, clinic, ["tenant_admin"])
    clinician = make_person(database, [(clinic, ["clinician"])], None)
    assert login(graphql, clinician.email, clinician.password)["__typename"] == "AuthSession"

    result = graphql.data(UPDATE, {"input": {"requireMfa": True}}, admin.token)["updateClinicSettings"]
    assert result == {"slug": clinic.slug, "requireMfa": True}
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
