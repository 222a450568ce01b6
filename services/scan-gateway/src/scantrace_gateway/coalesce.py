"""Group commit: concurrent requests' items are handled together, one batch at a time.

While one batch is in flight (a Kafka send, a Redis pipeline, an fsync), new submissions queue
up and become the next batch, so the batch size grows with the load by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """`submit(items)` returns the handler's results for exactly those items."""

    def __init__(self, handler: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._handler = handler
        self._pending: list[tuple[list[T], asyncio.Future[list[R]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, items: list[T]) -> list[R]:
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            flat = list(chain.from_iterable([items for items, _ in group]))
            try:
                results = await self._handler(flat)
            except BaseException as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            start = 0
            for items, future in group:
                end = start + len(items)
                if not future.done():
                    future.set_result(results[start:end])
                start = end

    async def close(self) -> None:
        """Let the batch in flight and everything queued finish."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
