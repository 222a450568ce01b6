"""Staff accounts without servers: disabling is one-way, passwords check, the view hides the hash."""

from __future__ import annotations

import msgspec
import pytest

from scantrace_common.events import StaffEvent
from scantrace_reporter.staff.accounts import merged
from scantrace_reporter.staff.models import public_view
from scantrace_reporter.staff.passwords import Passwords

ACCOUNT = StaffEvent(
    staff_id="epi-1",
    name="Lê Văn C",
    role="epidemiologist",
    password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    created_at=1_620_000_000_000,
    created_by="root",
)
DISABLED = msgspec.structs.replace(ACCOUNT, disabled_at=1_620_000_100_000, disabled_by="root")


def test_a_replayed_older_state_never_enables_a_disabled_account() -> None:
    assert merged(None, ACCOUNT) == ACCOUNT
    assert merged(ACCOUNT, DISABLED) == DISABLED
    assert merged(DISABLED, ACCOUNT).disabled_at == DISABLED.disabled_at
    assert merged(DISABLED, ACCOUNT).disabled_by == "root"


def test_the_public_view_has_no_hash() -> None:
    view = public_view(DISABLED)
    assert "password_hash" not in view
    assert view["disabled"] is True
    assert view["disabled_at"] == "2021-05-03T00:01:40Z"


async def test_passwords_check_and_unknown_accounts_never_match() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await passwords.check(stored, "correct horse battery")
    assert not await passwords.check(stored, "wrong horse battery")
    assert not await passwords.check(None, "decoy password, never anyone's")
    assert not await passwords.check("not a hash", "correct horse battery")


@pytest.mark.parametrize("role", ["admin", "epidemiologist", "official", "operator"])
def test_every_staff_role_has_an_account_schema(role: str) -> None:
    event = msgspec.structs.replace(ACCOUNT, role=role)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(event), type=StaffEvent) == event
