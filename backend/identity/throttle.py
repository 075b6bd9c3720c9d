"""Throttling failed sign-ins per account and per client address, with Redis counters that expire.

A counter starts at the first failure and expires `window` seconds later (a fixed window); once it
reaches its limit, sign-ins for that account (or from that address) are refused until it expires.
Keys hold an HMAC of the lower-cased email or the address, never the value itself.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from redis.asyncio import Redis

from backend.identity.secrets_box import derive_key
from backend.settings import Settings

DEFAULT_PREFIX = "ensemble:login"


class LoginThrottle:
    """One per application; safe to share across requests (the Redis client pools connections)."""

    def __init__(
        self,
        client: Redis,
        secret_key: str,
        window_seconds: int,
        max_failures_per_account: int,
        max_failures_per_address: int,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._redis = client
        self._key = derive_key(secret_key, "login-throttle/v1")
        self.window_seconds = window_seconds
        self.max_per_account = max_failures_per_account
        self.max_per_address = max_failures_per_address
        self._prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings, prefix: str = DEFAULT_PREFIX) -> LoginThrottle:
        """Over `settings.redis_url`, or the embedded Redis in the data folder when it is unset."""
        url = settings.redis_url
        if url is None:
            from backend.embedded import redis_url

            url = redis_url(settings.data_dir)
        return cls(
            Redis.from_url(url),
            settings.secret_key,
            settings.login_window_seconds,
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_address,
            prefix,
        )

    def _digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def account_key(self, email: str) -> str:
        """The counter key of an account: the same for any spelling case of its email."""
        return f"{self._prefix}:account:{self._digest(email.strip().lower())}"

    def _address_key(self, address: str) -> str:
        return f"{self._prefix}:address:{self._digest(address)}"

    def _limited(self, account_key: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(account_key, self.max_per_account)]
        if address:
            keys.append((self._address_key(address), self.max_per_address))
        return keys

    async def retry_after(self, account_key: str, address: str | None) -> int:
        """Seconds until this account and address may try again; 0 when they may now."""
        limited = self._limited(account_key, address)
        pipe = self._redis.pipeline(transaction=False)
        for key, _ in limited:
            pipe.get(key)
            pipe.ttl(key)
        replies: list[Any] = await pipe.execute()
        wait = 0
        for (_, limit), count, ttl in zip(limited, replies[::2], replies[1::2], strict=True):
            if count is not None and int(count) >= limit:
                # A key without expiry (-1) should not exist; treat it as a full window.
                wait = max(wait, int(ttl) if int(ttl) > 0 else self.window_seconds)
        return wait

    async def record_failure(self, account_key: str, address: str | None) -> None:
        """Count one failure against the account and the address."""
        pipe = self._redis.pipeline(transaction=True)
        for key, _ in self._limited(account_key, address):
            # SET NX EX then INCR keeps the expiry of the first failure (EXPIRE NX needs Redis 7).
            pipe.set(key, 0, ex=self.window_seconds, nx=True)
            pipe.incr(key)
        await pipe.execute()

    async def reset(self, account_key: str) -> None:
        """Clear the account's failures after a complete sign-in.

        The address counter is left to expire: one working account must not let an address keep
        guessing the passwords of others.
        """
        await self._redis.delete(account_key)

    async def aclose(self) -> None:
        await self._redis.aclose()
