"""Staff and device tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from scantrace_common.auth import (
    AuthError,
    mint_device_token,
    mint_staff_token,
    mint_venue_token,
    verify_token,
)

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


def test_venue_token_binds_a_venue() -> None:
    principal = verify_token(SECRET, mint_venue_token(SECRET, "v-cho"))
    assert (principal.role, principal.venue_id, principal.sub) == ("venue", "v-cho", "v-cho")
    assert principal.units is None
    assert principal.person_id is None


@pytest.mark.parametrize("venue_id", [None, 7, "", "a b", "x" * 65])
def test_venue_token_without_a_valid_venue_is_refused(venue_id: object) -> None:
    claims = {"sub": "v", "role": "venue", "exp": int(time.time()) + 60}
    if venue_id is not None:
        claims["venue_id"] = venue_id
    with pytest.raises(AuthError, match="venue_id"):
        verify_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"))


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
