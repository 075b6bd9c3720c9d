"""Sign-in through GraphQL: login, second factor, refresh, logout, revoke-all, switch clinic.

Resolvers only translate: the steps live in `backend.identity.signin` and `.sessions`. Nothing
here logs or echoes a password, token, code or TOTP secret.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.graphql.access import Authenticated, Public
from backend.graphql.context import Context
from backend.graphql.errors import UserError
from backend.graphql.transactions import Atomic
from backend.identity import sessions
from backend.identity.sessions import TokenPair
from backend.identity.signin import Enrollment, MfaEnabled, MfaPending, Refusal, Refused, SignIn

# -- results -------------------------------------------------------------------------------


@strawberry.type
class AuthSession:
    """A signed-in session in one clinic: send `accessToken` as a Bearer token, refresh before it expires."""

    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    clinic: str

    @classmethod
    def of(cls, pair: TokenPair) -> AuthSession:
        return cls(
            access_token=pair.access_token,
            access_token_expires_at=pair.access_token_expires_at,
            refresh_token=pair.refresh_token,
            refresh_token_expires_at=pair.refresh_token_expires_at,
            clinic=pair.clinic,
        )


@strawberry.type
class MfaRequired:
    """The password was right; continue with `verifyMfa`, or with enrolment when `enrolled` is false."""

    challenge: str
    challenge_expires_at: datetime
    enrolled: bool
    clinic: str


@strawberry.type
class MfaEnrollment:
    """The new TOTP secret, shown only now; confirm a code from it to turn two-factor sign-in on."""

    secret: str
    provisioning_uri: str


@strawberry.type(name="MfaEnabled")
class MfaEnabledResult:
    enabled_at: datetime


@strawberry.type
class SignedOut:
    signed_out: bool


@strawberry.type
class SessionsRevoked:
    """Every refresh token of the user was revoked and every access token stopped working."""

    revoked_sessions: int


# -- errors --------------------------------------------------------------------------------


@strawberry.type
class InvalidCredentials(UserError):
    """The same answer for an unknown email and a wrong password."""


@strawberry.type
class TooManyAttempts(UserError):
    retry_after_seconds: int


@strawberry.type
class ClinicRequired(UserError):
    """The account belongs to several clinics: sign in again naming one of `clinics`."""

    clinics: list[str]


@strawberry.type
class ClinicNotAvailable(UserError):
    """The same answer whether the clinic does not exist or the account is not a member."""


@strawberry.type
class InvalidChallenge(UserError):
    pass


@strawberry.type
class InvalidMfaCode(UserError):
    """Wrong, expired or already used; counts toward the sign-in throttle."""


@strawberry.type
class MfaAlreadyEnabled(UserError):
    pass


@strawberry.type
class MfaNotEnrolled(UserError):
    pass


@strawberry.type
class InvalidRefreshToken(UserError):
    pass


def _error(refused: Refused) -> UserError:
    reason = refused.reason
    if reason is Refusal.INVALID_CREDENTIALS:
        return InvalidCredentials(field=None, code=reason, message="The email or password is not correct.")
    if reason is Refusal.TOO_MANY_ATTEMPTS:
        return TooManyAttempts(
            field=None,
            code=reason,
            message=f"Too many failed attempts: try again in {refused.retry_after_seconds} seconds.",
            retry_after_seconds=refused.retry_after_seconds,
        )
    if reason is Refusal.CLINIC_REQUIRED:
        return ClinicRequired(
            field="clinic",
            code=reason,
            message="This account belongs to several clinics: choose one.",
            clinics=list(refused.clinics),
        )
    if reason is Refusal.CLINIC_NOT_AVAILABLE:
        return ClinicNotAvailable(
            field="clinic", code=reason, message="This account cannot sign in to that clinic."
        )
    if reason is Refusal.INVALID_CHALLENGE:
        return InvalidChallenge(
            field="challenge", code=reason, message="This sign-in step has expired or is no longer valid."
        )
    if reason is Refusal.INVALID_CODE:
        return InvalidMfaCode(
            field="code", code=reason, message="The code is wrong, expired or already used."
        )
    if reason is Refusal.MFA_ALREADY_ENABLED:
        return MfaAlreadyEnabled(field=None, code=reason, message="Two-factor sign-in is already on.")
    return MfaNotEnrolled(
        field=None, code=reason, message="Two-factor sign-in is not set up yet: enrol first."
    )


def _invalid_refresh_token() -> InvalidRefreshToken:
    return InvalidRefreshToken(
        field="refreshToken", code="invalid_refresh_token", message="This session has ended: sign in again."
    )


LoginResult = Annotated[
    AuthSession | MfaRequired | InvalidCredentials | ClinicRequired | ClinicNotAvailable | TooManyAttempts,
    strawberry.union("LoginResult"),
]
VerifyMfaResult = Annotated[
    AuthSession | InvalidChallenge | InvalidMfaCode | MfaNotEnrolled | TooManyAttempts,
    strawberry.union("VerifyMfaResult"),
]
BeginMfaEnrollmentResult = Annotated[
    MfaEnrollment | InvalidChallenge | MfaAlreadyEnabled | TooManyAttempts,
    strawberry.union("BeginMfaEnrollmentResult"),
]
ConfirmMfaEnrollmentResult = Annotated[
    AuthSession
    | MfaEnabledResult
    | InvalidChallenge
    | InvalidMfaCode
    | MfaAlreadyEnabled
    | MfaNotEnrolled
    | TooManyAttempts,
    strawberry.union("ConfirmMfaEnrollmentResult"),
]
RefreshSessionResult = Annotated[AuthSession | InvalidRefreshToken, strawberry.union("RefreshSessionResult")]
LogoutResult = Annotated[SignedOut | InvalidRefreshToken, strawberry.union("LogoutResult")]
SwitchClinicResult = Annotated[
    AuthSession | MfaRequired | ClinicNotAvailable, strawberry.union("SwitchClinicResult")
]


@strawberry.input
class LoginInput:
    email: str
    password: str
    # The clinic's slug; needed only when the account belongs to several clinics.
    clinic: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _sign_in(context: Context) -> SignIn:
    if context.throttle is None:
        raise RuntimeError("the login throttle is not configured for this app")
    return SignIn(context.session, context.settings, context.throttle, context.client_address, _now())


def _answer(result: TokenPair | MfaPending | Refused) -> AuthSession | MfaRequired | UserError:
    if isinstance(result, TokenPair):
        return AuthSession.of(result)
    if isinstance(result, MfaPending):
        return MfaRequired(
            challenge=result.challenge,
            challenge_expires_at=result.expires_at,
            enrolled=result.enrolled,
            clinic=result.clinic,
        )
    return _error(result)


def _signed_in_user(context: Context, challenge: str | None) -> uuid.UUID | None:
    """The signed-in user when no challenge is given (voluntary enrolment); sign-in needed then."""
    if challenge is not None:
        return None
    return context.require_principal().user_id


@strawberry.type
class AuthMutations:
    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def login(self, info: strawberry.Info[Context, Any], input: LoginInput) -> LoginResult:
        """Check email and password and open a session (or ask for the second factor)."""
        result = await _sign_in(info.context).login(input.email, input.password, input.clinic)
        return _answer(result)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def verify_mfa(
        self, info: strawberry.Info[Context, Any], challenge: str, code: str
    ) -> VerifyMfaResult:
        """Finish signing in with a TOTP code."""
        result = await _sign_in(info.context).verify_mfa(challenge, code)
        return _answer(result)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def begin_mfa_enrollment(
        self, info: strawberry.Info[Context, Any], challenge: str | None = None
    ) -> BeginMfaEnrollmentResult:
        """A new TOTP secret: for the challenged sign-in, or for the signed-in user when no challenge."""
        user_id = _signed_in_user(info.context, challenge)
        result = await _sign_in(info.context).begin_enrollment(challenge, user_id)
        if isinstance(result, Enrollment):
            return MfaEnrollment(secret=result.secret, provisioning_uri=result.provisioning_uri)
        return _error(result)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def confirm_mfa_enrollment(
        self, info: strawberry.Info[Context, Any], code: str, challenge: str | None = None
    ) -> ConfirmMfaEnrollmentResult:
        """Turn TOTP on with a first code; with a challenge this also finishes signing in."""
        user_id = _signed_in_user(info.context, challenge)
        result = await _sign_in(info.context).confirm_enrollment(challenge, user_id, code)
        if isinstance(result, MfaEnabled):
            return MfaEnabledResult(enabled_at=result.enabled_at)
        return _answer(result)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def refresh_session(
        self, info: strawberry.Info[Context, Any], refresh_token: str
    ) -> RefreshSessionResult:
        """Trade a refresh token for a new pair; presenting a used one ends its whole session."""
        # Its own transaction: revoking a family on reuse must stick although the answer is an error.
        async with AsyncSession(info.context.db.async_engine) as session, session.begin():
            pair = await sessions.rotate(session, info.context.settings, refresh_token, _now())
        return AuthSession.of(pair) if pair is not None else _invalid_refresh_token()

    @strawberry.mutation(permission_classes=[Public], extensions=[Atomic()])
    async def logout(self, info: strawberry.Info[Context, Any], refresh_token: str) -> LogoutResult:
        """End the session the refresh token belongs to (its access token lapses within minutes)."""
        if await sessions.revoke_family_of(info.context.session, refresh_token, _now()):
            return SignedOut(signed_out=True)
        return _invalid_refresh_token()

    @strawberry.mutation(permission_classes=[Authenticated], extensions=[Atomic()])
    async def revoke_all_sessions(self, info: strawberry.Info[Context, Any]) -> SessionsRevoked:
        """End every session of the signed-in user, in every clinic, including this one."""
        principal = info.context.require_principal()
        count = await sessions.revoke_all(info.context.session, principal.user_id, _now())
        return SessionsRevoked(revoked_sessions=count)

    @strawberry.mutation(permission_classes=[Authenticated], extensions=[Atomic()])
    async def switch_clinic(self, info: strawberry.Info[Context, Any], clinic: str) -> SwitchClinicResult:
        """A session in another clinic of the signed-in user; that clinic's MFA rule applies."""
        principal = info.context.require_principal()
        result = await _sign_in(info.context).switch_clinic(principal.user_id, clinic)
        return _answer(result)  # type: ignore[return-value]
