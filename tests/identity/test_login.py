"""Signing in with email and password, choosing the clinic, and the upgrade of old password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.database import Database
from backend.identity.models import User
from backend.identity.passwords import needs_rehash, verify_password
from tests.identity.flows import ME, MakeClinic, MakePerson, login
from tests.support import GraphQLClient


def test_login_returns_tokens_that_sign_in_requests(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A right password yields an access token that `me` accepts, in the user's only clinic."""
    clinic = make_clinic()
    pat = person((clinic, ["clinician"]))
    answer = login(client, pat.email.upper(), pat.password)
    assert answer["__typename"] == "AuthSession"
    assert answer["clinic"] == clinic.slug
    assert answer["refreshToken"] and answer["accessTokenExpiresAt"] < answer["refreshTokenExpiresAt"]
    me = client.data(ME, token=answer["accessToken"])["me"]
    assert me["email"] == pat.email
    assert me["clinic"] == {"slug": clinic.slug, "roles": ["clinician"]}


def test_wrong_password_and_unknown_email_answer_the_same(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Neither the type, the field, the code nor the message tells an unknown email from a bad password."""
    pat = person((make_clinic(), ["clinician"]))
    wrong_password = login(client, pat.email, pat.password + "x")
    unknown_email = login(client, "nobody-" + pat.email, pat.password)
    assert wrong_password["__typename"] == "InvalidCredentials"
    assert wrong_password == unknown_email


def test_disabled_user_cannot_sign_in(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A disabled account gets the same answer as a wrong password."""
    pat = person((make_clinic(), ["clinician"]))
    with Session(database.engine) as session, session.begin():
        session.execute(update(User).where(User.id == pat.user_id).values(disabled=True))
    assert login(client, pat.email, pat.password)["__typename"] == "InvalidCredentials"


def test_user_of_several_clinics_must_choose_one(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Without a clinic the answer lists the user's clinics; naming one signs in there."""
    a, b = make_clinic("A"), make_clinic("B")
    pat = person((a, ["clinician"]), (b, ["supervisor"]))
    answer = login(client, pat.email, pat.password)
    assert answer["__typename"] == "ClinicRequired"
    assert answer["field"] == "clinic"
    assert sorted(answer["clinics"]) == sorted([a.slug, b.slug])
    chosen = login(client, pat.email, pat.password, clinic=b.slug)
    assert chosen["__typename"] == "AuthSession"
    assert client.data(ME, token=chosen["accessToken"])["me"]["clinic"]["slug"] == b.slug


def test_clinic_the_user_does_not_belong_to_is_refused_like_one_that_does_not_exist(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Another existing clinic and a made-up slug get the same answer, about the `clinic` field."""
    mine, other = make_clinic("Mine"), make_clinic("Other")
    pat = person((mine, ["clinician"]))
    existing = login(client, pat.email, pat.password, clinic=other.slug)
    made_up = login(client, pat.email, pat.password, clinic="no-such-clinic")
    assert existing["__typename"] == "ClinicNotAvailable"
    assert existing["field"] == "clinic"
    assert existing == made_up


def test_login_upgrades_a_hash_made_with_older_parameters(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A hash with weaker argon2 parameters is replaced on the next successful login."""
    pat = person((make_clinic(), ["clinician"]))
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(pat.password)
    with Session(database.engine) as session, session.begin():
        session.execute(update(User).where(User.id == pat.user_id).values(password_hash=weak))
    assert login(client, pat.email, pat.password)["__typename"] == "AuthSession"
    with Session(database.engine) as session:
        stored = session.get_one(User, pat.user_id).password_hash
    assert stored is not None and stored != weak
    assert not needs_rehash(stored)
    assert verify_password(stored, pat.password)
