"""Who must use a second factor, and the MFA challenge token's bounds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from backend.authorization.roles import PHI_ROLES, Role
from backend.identity.mfa import CHALLENGE_SECONDS, decode_challenge, issue_challenge, mfa_required
from backend.identity.tokens import decode_access_token, issue_access_token

KEY = "platform-secret-for-tests-0123456789"


def test_clinic_rule_applies_to_every_phi_role_and_not_to_clients() -> None:
    """With the clinic rule on, each PHI role needs MFA and a client does not; off, nobody is forced."""
    for role in PHI_ROLES:
        assert mfa_required(False, True, [role.value])
        assert not mfa_required(False, False, [role.value])
    assert not mfa_required(False, True, [Role.CLIENT.value])
    assert mfa_required(False, True, [Role.CLIENT.value, Role.BILLER.value])


def test_enrolled_user_always_needs_mfa() -> None:
    """Once TOTP is on it is asked for everywhere, whatever the clinic and the roles."""
    assert mfa_required(True, False, [Role.CLIENT.value])


def test_challenge_round_trips_its_binding() -> None:
    """A fresh challenge names the user, clinic and token version it was issued for."""
    user, tenant = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    token, expires = issue_challenge(KEY, user, tenant, 4, now)
    claims = decode_challenge(KEY, token)
    assert claims is not None
    assert (claims.user_id, claims.tenant_id, claims.token_version) == (user, tenant, 4)
    assert expires - now == timedelta(seconds=CHALLENGE_SECONDS)


def test_expired_forged_or_misused_challenges_are_refused() -> None:
    """Expired, wrongly signed, and access tokens are not challenges; a challenge is not an access token."""
    user, tenant = uuid.uuid4(), uuid.uuid4()
    old, _ = issue_challenge(
        KEY, user, tenant, 0, datetime.now(UTC) - timedelta(seconds=CHALLENGE_SECONDS + 5)
    )
    assert decode_challenge(KEY, old) is None
    other_key, _ = issue_challenge(KEY + "x", user, tenant, 0)
    assert decode_challenge(KEY, other_key) is None
    access, _ = issue_access_token(KEY, user, tenant, 0, 600)
    assert decode_challenge(KEY, access) is None
    challenge, _ = issue_challenge(KEY, user, tenant, 0)
    assert decode_access_token(KEY, challenge) is None
    unsigned = jwt.encode({"sub": str(user), "tid": str(tenant), "tv": 0, "typ": "mfa"}, "k" * 32)
    assert decode_challenge(KEY, unsigned) is None
