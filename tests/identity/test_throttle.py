"""The Redis login throttle: limits, expiry-based retry times, reset, and keys that hide identities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
from redis.asyncio import Redis as AsyncRedis

from backend.identity.throttle import LoginThrottle

T = TypeVar("T")
KEY = "platform-secret-for-tests-0123456789"


def throttle_for(redis_url: str, prefix: str) -> LoginThrottle:
    return LoginThrottle(AsyncRedis.from_url(redis_url), KEY, 120, 3, 5, prefix)


def run_with(redis_url: str, scenario: Callable[[LoginThrottle], Awaitable[T]]) -> T:
    """Run `scenario` on a fresh event loop with a throttle of its own key prefix."""
    prefix = f"test-throttle:{uuid.uuid4().hex}"

    async def main() -> T:
        throttle = throttle_for(redis_url, prefix)
        try:
            return await scenario(throttle)
        finally:
            await throttle.aclose()

    try:
        return asyncio.run(main())
    finally:
        with redis.Redis.from_url(redis_url) as client:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)


def test_account_is_blocked_at_its_limit_until_the_window_expires(redis_url: str) -> None:
    """Below the limit there is no wait; at it the wait is the rest of the window."""

    async def scenario(throttle: LoginThrottle) -> list[int]:
        account = throttle.account_key("Pat@Example.test")
        waits = []
        for _ in range(3):
            waits.append(await throttle.retry_after(account, None))
            await throttle.record_failure(account, None)
        waits.append(await throttle.retry_after(throttle.account_key("pat@example.test "), None))
        return waits

    waits = run_with(redis_url, scenario)
    assert waits[:3] == [0, 0, 0]
    assert 0 < waits[3] <= 120


def test_address_limit_spans_accounts_and_reset_clears_only_the_account(redis_url: str) -> None:
    """Failures on many accounts block the address; a success resets its account, not the address."""

    async def scenario(throttle: LoginThrottle) -> tuple[int, int, int]:
        for n in range(5):
            await throttle.record_failure(throttle.account_key(f"user{n}@example.test"), "198.51.100.9")
        fresh = throttle.account_key("fresh@example.test")
        from_there = await throttle.retry_after(fresh, "198.51.100.9")
        from_elsewhere = await throttle.retry_after(fresh, "192.0.2.1")
        account = throttle.account_key("user0@example.test")
        await throttle.reset(account)
        after_reset = await throttle.retry_after(account, "198.51.100.9")
        return from_there, from_elsewhere, after_reset

    from_there, from_elsewhere, after_reset = run_with(redis_url, scenario)
    assert from_there > 0
    assert from_elsewhere == 0
    assert after_reset > 0


def test_keys_never_contain_the_email_or_the_address(redis_url: str) -> None:
    """Redis sees keyed hashes only: neither the email (any case) nor the address appears."""
    prefix = f"test-throttle:{uuid.uuid4().hex}"

    async def main() -> None:
        throttle = throttle_for(redis_url, prefix)
        await throttle.record_failure(throttle.account_key("Secret.Person@Example.test"), "203.0.113.99")
        await throttle.aclose()

    asyncio.run(main())
    with redis.Redis.from_url(redis_url) as client:
        keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:*")]
        for key in keys:
            client.delete(key)
    assert len(keys) == 2
    joined = " ".join(keys).lower()
    assert "secret.person" not in joined and "example.test" not in joined and "203.0.113.99" not in joined
