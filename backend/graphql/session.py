"""The request's database session, safe for resolvers that run concurrently.

GraphQL runs sibling fields (and DataLoader batches) concurrently, but an AsyncSession allows one
operation at a time; this session serializes its I/O with a lock instead of failing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


class RequestSession(AsyncSession):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._io_lock = asyncio.Lock()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self._io_lock:
            return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        async with self._io_lock:
            return await super().scalar(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        async with self._io_lock:
            return await super().get(*args, **kwargs)

    async def get_one(self, *args: Any, **kwargs: Any) -> Any:
        async with self._io_lock:
            return await super().get_one(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        async with self._io_lock:
            await super().flush(*args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        async with self._io_lock:
            await super().refresh(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        async with self._io_lock:
            await super().delete(*args, **kwargs)
