"""Many API calls at once, a few at a time (the APIs are shared with everyone else)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded(items: Iterable[T], call: Callable[[T], Awaitable[R]], limit: int = 6) -> list[R]:
    slots = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with slots:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
