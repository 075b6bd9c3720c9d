"""Creating users and granting roles: validation and case-insensitive email uniqueness."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from backend.database import Database
from backend.errors import InputRejected
from backend.identity.accounts import create_user, grant_membership, validate_account, validate_roles
from backend.identity.passwords import verify_password
from backend.tenants.models import Tenant


def test_account_fields_are_validated_without_quoting_the_password() -> None:
    """Bad email, empty name and short password are each reported on their field."""
    problems = validate_account("not-an-email", "  ", "short-pw")
    assert [(p.field, p.code) for p in problems] == [
        ("email", "invalid"),
        ("displayName", "required"),
        ("password", "too_short"),
    ]
    assert all("short-pw" not in p.message for p in problems)
    assert validate_account("pat@example.test", "Pat", "twelve-chars") == []


def test_unknown_or_missing_roles_are_refused() -> None:
    """Only the roles the platform knows can be granted, and at least one."""
    assert validate_roles(["clinician", "client"]) == []
    assert [p.code for p in validate_roles(["wizard"])] == ["unknown"]
    assert [p.code for p in validate_roles([])] == ["required"]


def test_create_user_stores_a_hash_and_refuses_the_same_email_in_another_case(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """The password is stored only as argon2id; a second account for the email (any case) is refused."""
    email = f"Pat.{uuid.uuid4().hex[:8]}@Example.test"
    with Session(database.engine) as session, session.begin():
        user = create_user(session, f"  {email} ", "Pat", "a long enough password")
        assert user.email == email
        assert user.password_hash and verify_password(user.password_hash, "a long enough password")
        membership = grant_membership(session, user, make_clinic(), ["supervisor", "clinician"])
        assert membership.roles == ["clinician", "supervisor"]
    with Session(database.engine) as session, session.begin(), pytest.raises(InputRejected) as rejected:
        create_user(session, email.lower(), "Pat Again", "another long password")
    assert [(p.field, p.code) for p in rejected.value.problems] == [("email", "taken")]


def test_grant_membership_refuses_unknown_roles(
    database: Database, make_clinic: Callable[..., Tenant]
) -> None:
    """Granting a role that does not exist stores nothing and names the role field."""
    with Session(database.engine) as session, session.begin():
        user = create_user(session, f"{uuid.uuid4().hex[:8]}@example.test", "Sam", "a long enough password")
        with pytest.raises(InputRejected) as rejected:
            grant_membership(session, user, make_clinic(), ["clinician", "wizard"])
    assert rejected.value.problems[0].field == "roles"
