"""Passwords, tokens, codes and TOTP secrets appear in no log line, no error message and no column."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.database import Database
from backend.identity.models import RefreshToken, User
from tests.identity.flows import (
    BEGIN_ENROLLMENT,
    CONFIRM_ENROLLMENT,
    LOGOUT,
    REFRESH,
    MakeClinic,
    MakePerson,
    code_at,
    login,
    off_by_one,
    require_mfa,
    run,
    verify,
)
from tests.support import GraphQLClient


def messages(payloads: list[dict[str, Any]]) -> str:
    return " ".join(str(p.get("message", "")) for p in payloads)


def test_sign_in_flows_never_reveal_secrets(
    client: GraphQLClient,
    database: Database,
    person: MakePerson,
    make_clinic: MakeClinic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every step, failed or not, runs with DEBUG logging; none of the secrets shows up anywhere."""
    caplog.set_level(logging.DEBUG)
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    wrong_password = pat.password + "-wrong"
    answers: list[dict[str, Any]] = [login(client, pat.email, wrong_password)]

    challenge = login(client, pat.email, pat.password)["challenge"]
    begun = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", challenge=challenge)
    secret = begun["secret"]
    first_code = code_at(secret)
    answers.append(
        run(client, CONFIRM_ENROLLMENT, "confirmMfaEnrollment", challenge=challenge, code="12345x")
    )
    session = run(client, CONFIRM_ENROLLMENT, "confirmMfaEnrollment", challenge=challenge, code=first_code)
    second_code = code_at(secret, +1)
    challenge_2 = login(client, pat.email, pat.password)["challenge"]
    answers.append(verify(client, challenge_2, off_by_one(second_code)))
    answers.append(verify(client, challenge_2, first_code))
    rotated = run(client, REFRESH, "refreshSession", refreshToken=session["refreshToken"])
    answers.append(run(client, REFRESH, "refreshSession", refreshToken=session["refreshToken"]))
    answers.append(run(client, LOGOUT, "logout", refreshToken=rotated["refreshToken"]))
    answers.append(run(client, REFRESH, "refreshSession", refreshToken=rotated["refreshToken"]))

    secrets = {
        "password": pat.password,
        "wrong password": wrong_password,
        "totp secret": secret,
        "challenge": challenge,
        "access token": session["accessToken"],
        "refresh token": session["refreshToken"],
        "rotated refresh token": rotated["refreshToken"],
        "rotated access token": rotated["accessToken"],
    }
    assert "reused" in caplog.text  # the capture works: the reuse warning was logged
    errors = messages([a for a in answers if "message" in a])
    assert errors  # the failed steps did answer with messages
    for name, value in secrets.items():
        assert value not in caplog.text, f"{name} was logged"
        assert value not in errors, f"{name} was in an error message"

    with Session(database.engine) as db:
        user = db.get_one(User, pat.user_id)
        stored = db.scalars(select(RefreshToken.token_hash).where(RefreshToken.user_id == pat.user_id)).all()
    assert user.totp_secret is not None and secret.encode() not in user.totp_secret
    assert user.password_hash is not None and pat.password not in user.password_hash
    assert session["refreshToken"] not in stored and rotated["refreshToken"] not in stored
