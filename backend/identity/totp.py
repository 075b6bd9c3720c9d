"""TOTP codes (RFC 6238, 30-second steps, 6 digits) with a one-step window and no reuse.

pyotp's `verify(valid_window=1)` does not say which step matched, so the window is checked here
step by step: the matching step is stored, and a code for that step or an earlier one is refused
(RFC 6238 section 5.2: a verifier must not accept the second attempt of the same OTP).
"""

from __future__ import annotations

import hmac

import pyotp

STEP_SECONDS = 30
DIGITS = 6
VALID_WINDOW = 1
ISSUER = "Ensemble"


def new_secret() -> str:
    """A fresh base32 secret (160 bits, as RFC 4226 recommends)."""
    return str(pyotp.random_base32(length=32))


def provisioning_uri(secret: str, account_name: str, issuer: str = ISSUER) -> str:
    """The `otpauth://` URI authenticator apps read from a QR code."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer))


def time_step(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def matching_step(secret: str, code: str, last_step: int | None, unix_time: float) -> int | None:
    """The time step `code` belongs to within the window, or None when it is wrong or already used."""
    code = code.replace(" ", "").strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = time_step(unix_time)
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(str(totp.generate_otp(step)), code):
            return step
    return None
