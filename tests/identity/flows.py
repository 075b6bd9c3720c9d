"""GraphQL operations and helpers shared by the sign-in tests."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
from sqlalchemy.orm import Session

from backend.database import Database
from backend.identity.accounts import create_user, grant_membership
from backend.tenants.models import Tenant
from tests.support import GraphQLClient

SESSION_FIELDS = "accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt clinic"
ERROR_FIELDS = "... on UserError { field code message }"

LOGIN = f"""
mutation Login($input: LoginInput!) {{
  login(input: $input) {{
    __typename
    ... on AuthSession {{ {SESSION_FIELDS} }}
    ... on MfaRequired {{ challenge challengeExpiresAt enrolled clinic }}
    ... on TooManyAttempts {{ retryAfterSeconds }}
    ... on ClinicRequired {{ clinics }}
    {ERROR_FIELDS}
  }}
}}"""
VERIFY_MFA = f"""
mutation Verify($challenge: String!, $code: String!) {{
  verifyMfa(challenge: $challenge, code: $code) {{
    __typename
    ... on AuthSession {{ {SESSION_FIELDS} }}
    ... on TooManyAttempts {{ retryAfterSeconds }}
    {ERROR_FIELDS}
  }}
}}"""
BEGIN_ENROLLMENT = f"""
mutation Begin($challenge: String) {{
  beginMfaEnrollment(challenge: $challenge) {{
    __typename
    ... on MfaEnrollment {{ secret provisioningUri }}
    {ERROR_FIELDS}
  }}
}}"""
CONFIRM_ENROLLMENT = f"""
mutation Confirm($challenge: String, $code: String!) {{
  confirmMfaEnrollment(challenge: $challenge, code: $code) {{
    __typename
    ... on AuthSession {{ {SESSION_FIELDS} }}
    ... on MfaEnabled {{ enabledAt }}
    {ERROR_FIELDS}
  }}
}}"""
REFRESH = f"""
mutation Refresh($refreshToken: String!) {{
  refreshSession(refreshToken: $refreshToken) {{
    __typename
    ... on AuthSession {{ {SESSION_FIELDS} }}
    {ERROR_FIELDS}
  }}
}}"""
LOGOUT = f"""
mutation Logout($refreshToken: String!) {{
  logout(refreshToken: $refreshToken) {{ __typename ... on SignedOut {{ signedOut }} {ERROR_FIELDS} }}
}}"""
REVOKE_ALL = "mutation { revokeAllSessions { revokedSessions } }"
SWITCH = f"""
mutation Switch($clinic: String!) {{
  switchClinic(clinic: $clinic) {{
    __typename
    ... on AuthSession {{ {SESSION_FIELDS} }}
    ... on MfaRequired {{ challenge enrolled clinic }}
    {ERROR_FIELDS}
  }}
}}"""
ME = "query { me { email clinic { slug roles } mfaEnabled } }"


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str
    password: str


MakePerson = Callable[..., Person]
MakeClinic = Callable[..., Tenant]


def make_person(
    database: Database, memberships: list[tuple[Tenant, list[str]]], password: str | None
) -> Person:
    """A user with a real password and these roles, created through `accounts`."""
    password = password or f"pw-{secrets.token_urlsafe(12)}"
    email = f"Person.{uuid.uuid4().hex[:10]}@Example.test"
    with Session(database.engine) as session, session.begin():
        user = create_user(session, email, "Pat Example", password)
        for tenant, roles in memberships:
            grant_membership(session, user, tenant, roles)
        user_id = user.id
    return Person(user_id, email, password)


def login(client: GraphQLClient, email: str, password: str, clinic: str | None = None) -> dict[str, Any]:
    data = client.data(LOGIN, {"input": {"email": email, "password": password, "clinic": clinic}})
    return dict(data["login"])


def run(
    client: GraphQLClient, operation: str, name: str, access_token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """One mutation's payload, from a response that must carry no GraphQL errors."""
    return dict(client.data(operation, variables, access_token)[name])


def require_mfa(database: Database, clinic: Tenant) -> None:
    """Turn on the clinic's rule that staff seeing PHI must use TOTP."""
    with Session(database.engine) as session, session.begin():
        session.get_one(Tenant, clinic.id).require_mfa = True


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The TOTP code of `secret` for the current 30-second step moved by `offset_steps`."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset_steps))


def enroll(client: GraphQLClient, challenge: str) -> tuple[str, dict[str, Any]]:
    """Enrol through a challenge with the current code; the secret and the session it opens."""
    begun = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", challenge=challenge)
    assert begun["__typename"] == "MfaEnrollment", begun
    confirmed = run(
        client, CONFIRM_ENROLLMENT, "confirmMfaEnrollment", challenge=challenge, code=code_at(begun["secret"])
    )
    assert confirmed["__typename"] == "AuthSession", confirmed
    return str(begun["secret"]), confirmed


def off_by_one(code: str) -> str:
    """A well-formed code that differs from `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def verify(client: GraphQLClient, challenge: str, code: str) -> dict[str, Any]:
    return run(client, VERIFY_MFA, "verifyMfa", challenge=challenge, code=code)
