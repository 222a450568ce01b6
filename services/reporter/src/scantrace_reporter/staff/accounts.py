"""The reporter's view of staff accounts in Redis, and the commands that change them.

A command publishes the account's whole new state to `staff.v1` (acknowledged by Kafka, the
source of truth) and then applies it to the view, so a sign-in right after a creation works and
a disabling is enforced at once; the consumer applies the same events again (idempotently).
Disabling is one-way: an account is disabled when either the stored or the incoming state says
so, so a replayed older event never re-enables one.

| key | type | holds |
|---|---|---|
| `<ns>rp:staff` | hash | staff_id -> msgpack `StaffEvent` |
| `<ns>rp:staff-claim:<id>` | string | an id being created right now (60 s), so a second POST gets 409 |
| `<ns>staff:disabled` | set | disabled staff ids, read by every service (`scantrace_common.disabled_staff`) |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import msgspec
from redis.asyncio import Redis

from scantrace_common.disabled_staff import disabled_staff_key
from scantrace_common.errors import ApiError
from scantrace_common.events import InvalidEvent, StaffEvent, decode, encode
from scantrace_common.timeparse import now_ms
from scantrace_common.topics import STAFF, topic_name
from scantrace_reporter.service import Publisher
from scantrace_reporter.staff.models import StaffIn
from scantrace_reporter.staff.passwords import Passwords

_CLAIM_S = 60


def merged(stored: StaffEvent | None, incoming: StaffEvent) -> StaffEvent:
    """The incoming state, except that a disabling already stored is kept (see the docstring)."""
    if stored is None or stored.disabled_at is None or incoming.disabled_at is not None:
        return incoming
    return msgspec.structs.replace(
        incoming, disabled_at=stored.disabled_at, disabled_by=stored.disabled_by
    )


class StaffAccounts:
    def __init__(
        self, redis: Redis, publisher: Publisher, passwords: Passwords, namespace: str
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self.passwords = passwords
        self._ns = namespace
        self._hash = f"{namespace}rp:staff"
        self._disabled = disabled_staff_key(namespace)
        self._topic = topic_name(STAFF, namespace)

    # reads -----------------------------------------------------------------------------------

    async def get(self, staff_id: str) -> StaffEvent | None:
        raw = cast("bytes | None", await self._redis.hget(self._hash, staff_id))
        return None if raw is None else decode(StaffEvent, raw)

    async def all(self) -> list[StaffEvent]:
        raw = cast("dict[bytes, bytes]", await self._redis.hgetall(self._hash))
        return sorted((decode(StaffEvent, v) for v in raw.values()), key=lambda a: a.staff_id)

    async def is_disabled(self, account: StaffEvent) -> bool:
        if account.disabled_at is not None:
            return True
        return bool(await self._redis.sismember(self._disabled, account.staff_id))

    # commands --------------------------------------------------------------------------------

    async def create(self, body: StaffIn, *, by: str) -> StaffEvent:
        """409 when the id exists (ids are never reused, even disabled ones)."""
        claim = f"{self._ns}rp:staff-claim:{body.staff_id}"
        if await self.get(body.staff_id) is not None or not await self._redis.set(
            claim, b"1", nx=True, ex=_CLAIM_S
        ):
            raise ApiError(409, f"staff id {body.staff_id!r} exists already")
        try:
            account = StaffEvent(
                staff_id=body.staff_id,
                name=body.name,
                role=body.role,
                units=body.units,
                password_hash=await self.passwords.hash(body.password),
                created_at=now_ms(),
                created_by=by[:128],
            )
            await self._publish(account)
            await self.apply([account])
        finally:
            await self._redis.delete(claim)
        return account

    async def disable(self, staff_id: str, *, by: str) -> StaffEvent:
        """404 for an unknown id; disabling twice answers the account as it is."""
        account = await self.get(staff_id)
        if account is None:
            raise ApiError(404, f"no staff account {staff_id!r}")
        if account.disabled_at is not None:
            return account
        disabled = msgspec.structs.replace(account, disabled_at=now_ms(), disabled_by=by[:128])
        await self._publish(disabled)
        await self.apply([disabled])
        return disabled

    async def _publish(self, account: StaffEvent) -> None:
        await self._publisher.send_batch(
            self._topic, [(account.staff_id.encode(), encode(account))]
        )

    # the view --------------------------------------------------------------------------------

    async def apply(self, events: Sequence[StaffEvent]) -> list[tuple[object, str]]:
        """Apply events in order (the last state of an id wins, disabling kept); no refusals."""
        latest: dict[str, StaffEvent] = {}
        for event in events:
            latest[event.staff_id] = merged(latest.get(event.staff_id), event)
        ids = list(latest)
        if not ids:
            return []
        # the client is made with decode_responses=False: values are bytes
        stored = cast("list[bytes | None]", await self._redis.hmget(self._hash, ids))
        async with self._redis.pipeline(transaction=False) as pipe:
            for staff_id, raw in zip(ids, stored, strict=True):
                try:
                    previous = None if raw is None else decode(StaffEvent, raw)
                except InvalidEvent:
                    previous = None
                account = merged(previous, latest[staff_id])
                pipe.hset(self._hash, staff_id, encode(account))
                if account.disabled_at is not None:
                    # only ever added: see the module's docstring
                    pipe.sadd(self._disabled, staff_id)
            await pipe.execute()
        return []
