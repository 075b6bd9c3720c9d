"""Two requests racing with the same TOTP code: exactly one signs in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pyotp
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.database import Database
from backend.identity.mfa import issue_challenge
from backend.identity.models import User
from backend.identity.secrets_box import SecretBox
from backend.identity.sessions import TokenPair
from backend.identity.signin import Refusal, Refused, SignIn
from backend.identity.throttle import LoginThrottle
from backend.identity.totp import new_secret
from backend.settings import Settings
from tests.identity.flows import MakeClinic, MakePerson


def test_one_code_presented_twice_at_once_signs_in_only_once(
    database: Database, settings: Settings, redis_url: str, person: MakePerson, make_clinic: MakeClinic
) -> None:
    """Concurrent verifications of one code: one gets a session, the other InvalidCode."""
    clinic = make_clinic()
    pat = person((clinic, ["clinician"]))
    secret = new_secret()
    with Session(database.engine) as session, session.begin():
        user = session.get_one(User, pat.user_id)
        user.totp_secret = SecretBox(settings.secret_key).encrypt(secret.encode(), user.id.bytes)
        user.totp_enabled_at = datetime.now(UTC)
    challenge, _ = issue_challenge(settings.secret_key, pat.user_id, clinic.id, 0)
    code = pyotp.TOTP(secret).now()

    async def race() -> list[TokenPair | Refused]:
        engine = create_async_engine(database.url, poolclass=NullPool)
        # Its own key prefix; the one failure it records expires with the 60-second window.
        prefix = f"test-race:{uuid.uuid4().hex}"
        throttle = LoginThrottle(AsyncRedis.from_url(redis_url), settings.secret_key, 60, 5, 50, prefix)

        async def attempt() -> TokenPair | Refused:
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                flow = SignIn(session, settings, throttle, "198.51.100.1", datetime.now(UTC))
                return await flow.verify_mfa(challenge, code)

        try:
            return list(await asyncio.gather(attempt(), attempt()))
        finally:
            await throttle.aclose()
            await engine.dispose()

    results = asyncio.run(race())
    assert sum(isinstance(r, TokenPair) for r in results) == 1
    assert [r.reason for r in results if isinstance(r, Refused)] == [Refusal.INVALID_CODE]
