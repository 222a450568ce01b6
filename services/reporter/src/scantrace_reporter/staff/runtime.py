"""What the reporter's lifespan starts for staff accounts, and the readiness check of it."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI
from redis.asyncio import Redis

from scantrace_common.kafka import DurableProducer
from scantrace_reporter.settings import ReporterSettings
from scantrace_reporter.staff.accounts import StaffAccounts
from scantrace_reporter.staff.consumer import StaffConsumer
from scantrace_reporter.staff.lockout import Lockout
from scantrace_reporter.staff.passwords import Passwords


class StaffRuntime:
    """The accounts, the lockout and the `staff.v1` consumer, on `app.state.staff`."""

    def __init__(self, settings: ReporterSettings, redis: Redis, producer: DurableProducer) -> None:
        self.accounts = StaffAccounts(redis, producer, Passwords(), settings.namespace)
        self.lockout = Lockout(redis, settings.namespace)
        self.consumer = StaffConsumer(settings, self.accounts, producer)
        self._task: asyncio.Task[None] | None = None
        self.consumes = settings.reporter_consumers

    def start(self) -> None:
        if self.consumes:
            self._task = asyncio.create_task(self.consumer.run(), name="reporter-consumer-staff")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def staff_ready(app: FastAPI) -> None:
    """Not ready until the accounts are read from `staff.v1` (a sign-in would fail for nothing)."""
    runtime: StaffRuntime = app.state.staff
    if not runtime.consumes:
        return
    if runtime.consumer.failure is not None:
        raise RuntimeError(runtime.consumer.failure)
    if not runtime.consumer.caught_up:
        raise RuntimeError("still reading staff.v1")
