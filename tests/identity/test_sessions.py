"""Refresh token rotation, reuse detection, logout, revoke-all and switching clinic."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.database import Database
from backend.identity.models import Membership
from tests.identity.flows import (
    LOGOUT,
    ME,
    REFRESH,
    REVOKE_ALL,
    SWITCH,
    MakeClinic,
    MakePerson,
    login,
    run,
)
from tests.support import GraphQLClient


def refresh(client: GraphQLClient, token: str) -> dict[str, object]:
    return run(client, REFRESH, "refreshSession", refreshToken=token)


def test_refresh_rotates_to_a_new_working_pair(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A refresh token buys a new access token and a new refresh token, both different."""
    clinic = make_clinic()
    pat = person((clinic, ["clinician"]))
    first = login(client, pat.email, pat.password)
    second = refresh(client, first["refreshToken"])
    assert second["__typename"] == "AuthSession"
    assert second["refreshToken"] != first["refreshToken"]
    assert second["clinic"] == clinic.slug
    assert client.data(ME, token=str(second["accessToken"]))["me"]["email"] == pat.email
    third = refresh(client, str(second["refreshToken"]))
    assert third["__typename"] == "AuthSession"


def test_reusing_a_refresh_token_revokes_its_whole_family(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Presenting a used refresh token fails, and the token issued in its place stops working too."""
    pat = person((make_clinic(), ["clinician"]))
    other_session = login(client, pat.email, pat.password)
    first = login(client, pat.email, pat.password)
    second = refresh(client, first["refreshToken"])
    reused = refresh(client, first["refreshToken"])
    assert reused["__typename"] == "InvalidRefreshToken"
    assert reused["field"] == "refreshToken"
    assert refresh(client, str(second["refreshToken"]))["__typename"] == "InvalidRefreshToken"
    # Another sign-in of the same user is a different family and keeps working.
    assert refresh(client, other_session["refreshToken"])["__typename"] == "AuthSession"


def test_unknown_refresh_token_is_refused(client: GraphQLClient) -> None:
    """A made-up refresh token gets InvalidRefreshToken, not a server error."""
    assert refresh(client, "not-a-token")["__typename"] == "InvalidRefreshToken"


def test_refresh_fails_once_the_membership_ends(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A user removed from the clinic cannot extend a session there."""
    pat = person((make_clinic(), ["clinician"]))
    tokens = login(client, pat.email, pat.password)
    with Session(database.engine) as session, session.begin():
        session.execute(update(Membership).where(Membership.user_id == pat.user_id).values(active=False))
    assert refresh(client, tokens["refreshToken"])["__typename"] == "InvalidRefreshToken"


def test_logout_revokes_the_session(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """After logout the session's refresh token (and its successors) no longer refresh."""
    pat = person((make_clinic(), ["clinician"]))
    first = login(client, pat.email, pat.password)
    second = refresh(client, first["refreshToken"])
    out = run(client, LOGOUT, "logout", refreshToken=second["refreshToken"])
    assert out == {"__typename": "SignedOut", "signedOut": True}
    assert refresh(client, str(second["refreshToken"]))["__typename"] == "InvalidRefreshToken"
    again = run(client, LOGOUT, "logout", refreshToken="not-a-token")
    assert again["__typename"] == "InvalidRefreshToken"


def test_revoke_all_ends_existing_access_tokens_at_once(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Revoke-all makes unexpired access tokens and every refresh token of the user useless."""
    pat = person((make_clinic(), ["clinician"]))
    phone = login(client, pat.email, pat.password)
    laptop = login(client, pat.email, pat.password)
    assert client.data(ME, token=phone["accessToken"])["me"]["email"] == pat.email
    revoked = client.data(REVOKE_ALL, token=laptop["accessToken"])["revokeAllSessions"]
    assert revoked == {"revokedSessions": 2}
    for device in (phone, laptop):
        body = client.execute(ME, token=device["accessToken"])
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert refresh(client, device["refreshToken"])["__typename"] == "InvalidRefreshToken"
    assert login(client, pat.email, pat.password)["__typename"] == "AuthSession"


def test_revoke_all_needs_a_signed_in_caller(client: GraphQLClient) -> None:
    """Without an access token revoke-all is refused as unauthenticated."""
    body = client.execute(REVOKE_ALL)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_switch_clinic_gives_a_session_in_another_membership(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A signed-in user moves to another of their clinics; a clinic they are not in is refused."""
    a, b, stranger = make_clinic("A"), make_clinic("B"), make_clinic("C")
    pat = person((a, ["clinician"]), (b, ["biller"]))
    in_a = login(client, pat.email, pat.password, clinic=a.slug)
    moved = run(client, SWITCH, "switchClinic", access_token=in_a["accessToken"], clinic=b.slug)
    assert moved["__typename"] == "AuthSession"
    me = client.data(ME, token=str(moved["accessToken"]))["me"]
    assert me["clinic"] == {"slug": b.slug, "roles": ["biller"]}
    refused = run(client, SWITCH, "switchClinic", access_token=in_a["accessToken"], clinic=stranger.slug)
    assert refused["__typename"] == "ClinicNotAvailable"
