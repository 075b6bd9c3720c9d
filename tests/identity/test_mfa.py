"""TOTP enrolment and verification, the clinic's MFA rule, and codes that must not work."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.database import Database
from backend.identity.models import User
from tests.identity.flows import (
    BEGIN_ENROLLMENT,
    CONFIRM_ENROLLMENT,
    ME,
    REFRESH,
    SWITCH,
    MakeClinic,
    MakePerson,
    code_at,
    enroll,
    login,
    off_by_one,
    require_mfa,
    run,
    verify,
)
from tests.support import GraphQLClient


def test_enrolment_then_verification_end_to_end(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A clinician of an MFA clinic enrols at first sign-in, then signs in with a code from the app."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    first = login(client, pat.email, pat.password)
    assert first["__typename"] == "MfaRequired"
    assert first["enrolled"] is False and first["clinic"] == clinic.slug
    as_access_token = client.execute(ME, token=first["challenge"])
    assert as_access_token["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    secret, session = enroll(client, first["challenge"])
    me = client.data(ME, token=session["accessToken"])["me"]
    assert me["mfaEnabled"] is True and me["clinic"]["slug"] == clinic.slug

    second = login(client, pat.email, pat.password)
    assert second["__typename"] == "MfaRequired" and second["enrolled"] is True
    # The enrolment used the current step; the next step's code is inside the one-step window.
    signed_in = verify(client, second["challenge"], code_at(secret, +1))
    assert signed_in["__typename"] == "AuthSession"
    assert client.data(ME, token=str(signed_in["accessToken"]))["me"]["email"] == pat.email


def test_provisioning_uri_names_the_account_and_the_secret(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """The QR code URI an authenticator reads carries the secret shown and the issuer."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["supervisor"]))
    challenge = login(client, pat.email, pat.password)["challenge"]
    begun = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", challenge=challenge)
    assert begun["provisioningUri"].startswith("otpauth://totp/")
    assert f"secret={begun['secret']}" in begun["provisioningUri"]
    assert "issuer=Ensemble" in begun["provisioningUri"]


def test_wrong_code_is_rejected(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A code that is not the secret's (nor a code two steps away) gives InvalidMfaCode on `code`."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    secret, _ = enroll(client, login(client, pat.email, pat.password)["challenge"])
    challenge = login(client, pat.email, pat.password)["challenge"]
    right = code_at(secret, +1)
    for code in (off_by_one(right), code_at(secret, +2), "abcdef", ""):
        answer = verify(client, challenge, code)
        assert answer["__typename"] == "InvalidMfaCode"
        assert answer["field"] == "code"
    assert verify(client, challenge, right)["__typename"] == "AuthSession"


def test_reused_code_is_rejected(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A code already accepted (or an older one) never works again, even in a new sign-in."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    secret, _ = enroll(client, login(client, pat.email, pat.password)["challenge"])
    enrolment_code = code_at(secret)
    challenge = login(client, pat.email, pat.password)["challenge"]
    assert verify(client, challenge, enrolment_code)["__typename"] == "InvalidMfaCode"
    later = code_at(secret, +1)
    assert verify(client, challenge, later)["__typename"] == "AuthSession"
    again = login(client, pat.email, pat.password)["challenge"]
    assert verify(client, again, later)["__typename"] == "InvalidMfaCode"


def test_clinic_requiring_mfa_forces_phi_roles_but_not_clients(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """In an MFA clinic a front-desk user must use TOTP while a `client`-role user signs in directly."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    staff = person((clinic, ["front_desk"]))
    member = person((clinic, ["client"]))
    assert login(client, staff.email, staff.password)["__typename"] == "MfaRequired"
    assert login(client, member.email, member.password)["__typename"] == "AuthSession"


def test_clinic_without_the_rule_lets_unenrolled_staff_sign_in(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Without `require_mfa`, staff who never enrolled get tokens straight away."""
    staff = person((make_clinic(), ["clinician"]))
    assert login(client, staff.email, staff.password)["__typename"] == "AuthSession"


def test_voluntary_enrolment_makes_every_later_sign_in_ask_for_a_code(
    client: GraphQLClient, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A signed-in user may turn TOTP on; from then on even a clinic without the rule asks for it."""
    staff = person((make_clinic(), ["biller"]))
    token = login(client, staff.email, staff.password)["accessToken"]
    begun = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", access_token=token)
    assert begun["__typename"] == "MfaEnrollment"
    code = code_at(begun["secret"])
    wrong = run(client, CONFIRM_ENROLLMENT, "confirmMfaEnrollment", access_token=token, code=off_by_one(code))
    assert wrong["__typename"] == "InvalidMfaCode"
    done = run(client, CONFIRM_ENROLLMENT, "confirmMfaEnrollment", access_token=token, code=code)
    assert done["__typename"] == "MfaEnabled"
    assert client.data(ME, token=token)["me"]["mfaEnabled"] is True
    again = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", access_token=token)
    assert again["__typename"] == "MfaAlreadyEnabled"
    answer = login(client, staff.email, staff.password)
    assert answer["__typename"] == "MfaRequired" and answer["enrolled"] is True


def test_enrolment_without_challenge_needs_a_signed_in_caller(client: GraphQLClient) -> None:
    """Beginning enrolment with neither a challenge nor an access token is unauthenticated."""
    body = client.execute(BEGIN_ENROLLMENT, {"challenge": None})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_forged_or_stale_challenge_is_refused(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """A made-up challenge, an access token posing as one, or one older than a revoke-all all fail."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    client_user = person((make_clinic(), ["client"]))
    access = login(client, client_user.email, client_user.password)["accessToken"]
    challenge = login(client, pat.email, pat.password)["challenge"]
    with Session(database.engine) as session, session.begin():
        user = session.get_one(User, pat.user_id)
        user.token_version += 1
    for value in ("not-a-challenge", access, challenge):
        answer = run(client, BEGIN_ENROLLMENT, "beginMfaEnrollment", challenge=value)
        assert answer["__typename"] == "InvalidChallenge"
        assert answer["field"] == "challenge"


def test_verify_before_enrolment_is_refused(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """An unenrolled user's challenge cannot be answered with a code; it must enrol first."""
    clinic = make_clinic()
    require_mfa(database, clinic)
    pat = person((clinic, ["clinician"]))
    challenge = login(client, pat.email, pat.password)["challenge"]
    assert verify(client, challenge, "123456")["__typename"] == "MfaNotEnrolled"


def test_switching_into_an_mfa_clinic_asks_for_the_second_factor(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Moving from a clinic without the rule to one with it yields a challenge, not tokens."""
    relaxed, strict = make_clinic("Relaxed"), make_clinic("Strict")
    require_mfa(database, strict)
    pat = person((relaxed, ["clinician"]), (strict, ["clinician"]))
    token = login(client, pat.email, pat.password, clinic=relaxed.slug)["accessToken"]
    moved = run(client, SWITCH, "switchClinic", access_token=token, clinic=strict.slug)
    assert moved["__typename"] == "MfaRequired"
    assert moved["clinic"] == strict.slug and moved["enrolled"] is False
    _, session = enroll(client, moved["challenge"])
    assert session["clinic"] == strict.slug


def test_turning_the_rule_on_stops_refresh_of_unenrolled_staff(
    client: GraphQLClient, database: Database, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Sessions opened before the clinic required MFA cannot be extended by staff without TOTP."""
    clinic = make_clinic()
    staff = person((clinic, ["clinician"]))
    member = person((clinic, ["client"]))
    staff_session = login(client, staff.email, staff.password)
    member_session = login(client, member.email, member.password)
    require_mfa(database, clinic)
    staff_refresh = run(client, REFRESH, "refreshSession", refreshToken=staff_session["refreshToken"])
    member_refresh = run(client, REFRESH, "refreshSession", refreshToken=member_session["refreshToken"])
    assert staff_refresh["__typename"] == "InvalidRefreshToken"
    assert member_refresh["__typename"] == "AuthSession"
