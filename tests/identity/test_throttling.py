"""Failed sign-ins are throttled per account and per address, codes included, before any check."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from backend.database import Database
from tests.identity.flows import (
    MakeClinic,
    MakePerson,
    code_at,
    enroll,
    login,
    off_by_one,
    require_mfa,
    verify,
)
from tests.support import GraphQLClient

WINDOW = 900
WRONG = "wrong-password-123"


def test_account_is_blocked_after_too_many_failures_even_with_the_right_password(
    make_client: Callable[..., GraphQLClient], person: MakePerson, make_clinic: MakeClinic
) -> None:
    """N wrong passwords block the account (in any spelling of its email); others are unaffected."""
    client = make_client(login_max_failures_per_account=3, login_window_seconds=WINDOW)
    clinic = make_clinic()
    pat, sam = person((clinic, ["clinician"])), person((clinic, ["clinician"]))
    for _ in range(3):
        assert login(client, pat.email, WRONG)["__typename"] == "InvalidCredentials"
    blocked = login(client, pat.email.lower(), pat.password)
    assert blocked["__typename"] == "TooManyAttempts"
    assert 0 < blocked["retryAfterSeconds"] <= WINDOW
    assert login(client, sam.email, sam.password)["__typename"] == "AuthSession"


def test_address_is_blocked_after_too_many_failures_across_accounts(
    make_client: Callable[..., GraphQLClient], person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Guessing many accounts from one address blocks that address; another address still signs in."""
    limits = {"login_max_failures_per_address": 3, "login_max_failures_per_account": 100}
    shared = f"test-login:{uuid.uuid4().hex}"
    guesser = make_client(address="198.51.100.7", prefix=shared, **limits)
    pat = person((make_clinic(), ["clinician"]))
    for n in range(3):
        assert login(guesser, f"guess-{n}@example.test", WRONG)["__typename"] == "InvalidCredentials"
    assert login(guesser, pat.email, pat.password)["__typename"] == "TooManyAttempts"
    elsewhere = make_client(address="192.0.2.44", prefix=shared, **limits)
    assert login(elsewhere, pat.email, pat.password)["__typename"] == "AuthSession"


def test_successful_sign_in_clears_the_account_counter(
    make_client: Callable[..., GraphQLClient], person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Failures before a complete sign-in do not add up with failures after it."""
    client = make_client(login_max_failures_per_account=3)
    pat = person((make_clinic(), ["clinician"]))
    for _ in range(2):
        login(client, pat.email, WRONG)
    assert login(client, pat.email, pat.password)["__typename"] == "AuthSession"
    for _ in range(2):
        login(client, pat.email, WRONG)
    assert login(client, pat.email, pat.password)["__typename"] == "AuthSession"


def test_wrong_codes_count_and_a_right_password_does_not_clear_them(
    make_client: Callable[..., GraphQLClient], database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Knowing the password buys no extra guesses at the code: code failures block the account."""
    client = make_client(login_max_failures_per_account=3)
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    secret, _ = enroll(client, login(client, pat.email, pat.password)["challenge"])
    right = code_at(secret, +1)
    challenge = login(client, pat.email, pat.password)["challenge"]
    for _ in range(2):
        assert verify(client, challenge, off_by_one(right))["__typename"] == "InvalidMfaCode"
    challenge = login(client, pat.email, pat.password)["challenge"]
    assert verify(client, challenge, off_by_one(right))["__typename"] == "InvalidMfaCode"
    assert verify(client, challenge, right)["__typename"] == "TooManyAttempts"
    assert login(client, pat.email, pat.password)["__typename"] == "TooManyAttempts"
