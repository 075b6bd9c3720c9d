"""TOTP codes: the one-step window and the refusal of used or older steps."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp

from backend.identity.totp import STEP_SECONDS, matching_step, new_secret, provisioning_uri, time_step

NOW = 1_700_000_015.0  # inside step 56_666_667


def code(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret).at(step * STEP_SECONDS))


def test_codes_of_the_current_and_adjacent_steps_match_their_step() -> None:
    """The current step and one step either side are accepted, and the step matched is reported."""
    secret = new_secret()
    now = time_step(NOW)
    for step in (now - 1, now, now + 1):
        assert matching_step(secret, code(secret, step), None, NOW) == step


def test_codes_two_steps_away_are_refused() -> None:
    """The window is one step: codes 60 seconds away no longer match."""
    secret = new_secret()
    now = time_step(NOW)
    for step in (now - 2, now + 2):
        candidate = code(secret, step)
        if candidate not in {code(secret, s) for s in (now - 1, now, now + 1)}:
            assert matching_step(secret, candidate, None, NOW) is None


def test_used_step_and_earlier_steps_are_refused() -> None:
    """After a step is used, its code and codes of earlier steps fail; a later step still works."""
    secret = new_secret()
    now = time_step(NOW)
    assert matching_step(secret, code(secret, now), now, NOW) is None
    assert matching_step(secret, code(secret, now - 1), now, NOW) is None
    assert matching_step(secret, code(secret, now + 1), now, NOW) == now + 1


def test_malformed_codes_never_match() -> None:
    """Too short, too long, non-digit or empty codes are refused without comparing."""
    secret = new_secret()
    real = code(secret, time_step(NOW))
    for candidate in ("", "12345", real + "0", "abcdef", real[:3] + "x" + real[4:]):
        assert matching_step(secret, candidate, None, NOW) is None
    assert matching_step(secret, f"{real[:3]} {real[3:]}", None, NOW) == time_step(NOW)


def test_secrets_are_fresh_and_provisioning_uri_carries_them() -> None:
    """Each secret is new, 160 bits of base32, and the URI names issuer, account and secret."""
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == 32
    uri = urlparse(provisioning_uri(first, "pat@example.test"))
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert query["secret"] == [first] and query["issuer"] == ["Ensemble"]
    assert "pat%40example.test" in uri.path or "pat@example.test" in uri.path
