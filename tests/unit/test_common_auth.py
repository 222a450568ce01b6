"""Staff and device tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from scantrace_common.auth import AuthError, mint_device_token, mint_staff_token, verify_token

pytestmark = pytest.mark.unit
SECRET = "x" * 64


def test_staff_token_round_trip_with_units() -> None:
    token = mint_staff_token(SECRET, "off-1", "official", units=["dn-bien-hoa"])
    principal = verify_token(SECRET, token)
    assert (principal.sub, principal.role, principal.units) == (
        "off-1",
        "official",
        ("dn-bien-hoa",),
    )


def test_device_token_binds_a_person() -> None:
    principal = verify_token(SECRET, mint_device_token(SECRET, "d-1", "p-1"))
    assert (principal.role, principal.person_id) == ("device", "p-1")


def test_unknown_role_cannot_be_minted() -> None:
    with pytest.raises(ValueError, match="role"):
        mint_staff_token(SECRET, "x", "superuser")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        mint_staff_token("another-secret-of-enough-length-000", "a", "admin"),
        jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) - 10}, SECRET, "HS256"),
        jwt.encode({"sub": "a", "role": "root", "exp": int(time.time()) + 60}, SECRET, "HS256"),
        jwt.encode({"sub": "a", "exp": int(time.time()) + 60}, SECRET, "HS256"),
        jwt.encode({"sub": "d", "role": "device", "exp": int(time.time()) + 60}, SECRET, "HS256"),
        jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) + 60}, SECRET, "HS512"),
    ],
)
def test_invalid_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthError):
        verify_token(SECRET, token)
