"""Password hashes: argon2id (memory-hard, SPEC 8) with argon2-cffi's parameters (RFC 9106's
second recommendation: 64 MiB, 3 passes, 4 lanes).

Each hash or check takes about 64 MiB and tens of milliseconds of CPU, off the event loop; at most
`concurrency` run at once, so a burst of sign-ins queues instead of exhausting memory.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, concurrency: int = 2) -> None:
        self._hasher = PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        # Checked against when the account does not exist, so that an unknown id costs the same
        # time as a wrong password and the answer's delay does not tell them apart.
        self._decoy = self._hasher.hash("decoy password, never anyone's")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def check(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; `None` (no such account) is checked against the decoy."""
        async with self._slots:
            return await asyncio.to_thread(self._check, stored_hash, password)

    def _check(self, stored_hash: str | None, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored_hash or self._decoy, password)) and (
                stored_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False
