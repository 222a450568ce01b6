"""Findings of issue #14 at the gateway, against the app with an in-memory publisher.

6: bodies nested deeper than the decoder can walk are a 400, never a 500; 7: ids with a
trailing newline are refused wherever they enter; 8: a revocation is final; 10: the token
cache never outlives a token's `exp`. Nothing of a refused request is published.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
import msgspec
import pytest

from scantrace_common.auth import AuthError, mint_device_token
from scantrace_gateway.revocations import RevokedVenues
from scantrace_gateway.state import TokenCache
from scantrace_gateway.testing import Harness, harness, new_scan_id
from tests.support.venues import venue_event

pytestmark = pytest.mark.unit

MEDIA = {"json": "application/json", "msgpack": "application/msgpack"}


def _json_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _json_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _msgpack_array(depth: int) -> bytes:
    return b"\x91" * depth + b"\x90"  # fixarray of one element, ..., the empty array


def _msgpack_map(depth: int) -> bytes:
    return b"\x81\xa1a" * depth + b"\x01"  # {"a": {"a": ... 1}}


def _in_unknown_field(fmt: str, deep: bytes) -> bytes:
    """`{"x": <deep>, "person_id": "p-1"}`: a field the decoder skips, walking all of it."""
    if fmt == "json":
        return b'{"x":' + deep + b',"person_id":"p-1"}'
    return b"\x82\xa1x" + deep + b"\xa9person_id\xa3p-1"


def _in_array(fmt: str, deep: bytes) -> bytes:
    return b"[" + deep + b"]" if fmt == "json" else b"\x91" + deep


# Deep enough to exhaust the recursion limit wherever the decoder starts (and enrolment bodies
# stay under their 4 KiB: a thousand JSON objects do not fit, so they come in msgpack only).
_DEEP = {
    "json": {"array": _json_array(2000), "object": _json_object(5000)},
    "msgpack": {"array": _msgpack_array(3000), "object": _msgpack_map(1300)},
}


def _deep_bodies(path: str, fmt: str) -> dict[str, bytes]:
    """Bodies whose depth the decoder has to walk. (A deep array where an object is expected is
    refused at its first level, 422, so declarations and enrolments get objects only.)"""
    deep = _DEEP[fmt]
    bodies = {"deep object": deep["object"]}
    bodies.update(
        {
            f"unknown field holding a deep {kind}": _in_unknown_field(fmt, v)
            for kind, v in deep.items()
        }
    )
    if path == "/v1/scans":
        bodies["deep array"] = deep["array"]
        bodies.update(
            {f"array holding a deep {kind}": _in_array(fmt, v) for kind, v in deep.items()}
        )
    if path == "/v1/devices" and fmt == "json":
        bodies = {name: body for name, body in bodies.items() if b'{"a":' not in body}
    return bodies


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
@pytest.mark.parametrize("path", ["/v1/devices", "/v1/scans", "/v1/declarations"])
async def test_finding_6_deeply_nested_bodies_are_a_400_and_publish_nothing(
    path: str, fmt: str
) -> None:
    async with harness() as h:
        headers = {
            "content-type": MEDIA[fmt],
            "authorization": f"Bearer {h.device_token('p-1')}",
        }
        for name, body in _deep_bodies(path, fmt).items():
            response = await h.client.post(path, content=body, headers=headers)
            assert response.status_code == 400, (name, response.text)
            assert "nested too deeply" in response.json()["error"], name
        assert h.publisher.records == []


@pytest.mark.parametrize("path", ["/v1/devices", "/v1/scans", "/v1/declarations"])
async def test_a_json_body_that_is_not_utf8_is_a_400_and_publishes_nothing(path: str) -> None:
    """Found by the hostile-input suite: msgspec raises UnicodeDecodeError, not DecodeError."""
    async with harness() as h:
        headers = {
            "content-type": MEDIA["json"],
            "authorization": f"Bearer {h.device_token('p-1')}",
        }
        for body in (b'{"person_id": "\xff\xfe"}', b"\xff", b'{"person_id": "a\xc3\x28"}'):
            response = await h.client.post(path, content=body, headers=headers)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"].startswith("unparseable json body")
        assert h.publisher.records == []


def _body(fmt: str, value: Any) -> bytes:
    return msgspec.json.encode(value) if fmt == "json" else msgspec.msgpack.encode(value)


async def _post(h: Harness, path: str, fmt: str, value: Any, person: str) -> Any:
    token = mint_device_token(h.secret, "dev-1", person)
    return await h.client.post(
        path,
        content=_body(fmt, value),
        headers={"content-type": MEDIA[fmt], "authorization": f"Bearer {token}"},
    )


def _scan(h: Harness, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "scan_id": new_scan_id(),
        "person_id": "alice",
        "qr": h.qr("v-1"),
        "direction": "in",
        "scanned_at": int(time.time() * 1000) - 1000,
    }
    return item | over


def _declaration(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "declaration_id": str(uuid.uuid4()),
        "person_id": "alice",
        "declared_at": int(time.time() * 1000),
        "symptoms": [],
    }
    return item | over


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_finding_7_ids_with_a_trailing_newline_are_refused_and_publish_nothing(
    fmt: str,
) -> None:
    async with harness() as h:
        enrol = await h.client.post(
            "/v1/devices",
            content=_body(fmt, {"person_id": "alice\n"}),
            headers={"content-type": MEDIA[fmt]},
        )
        assert enrol.status_code == 422, enrol.text

        # A token minted for "alice" and bodies naming "alice\n", or a newline scan/declaration id.
        refused = [
            ("/v1/scans", _scan(h, person_id="alice\n")),
            ("/v1/scans", _scan(h, scan_id=new_scan_id() + "\n")),
            ("/v1/declarations", _declaration(person_id="alice\n")),
            ("/v1/declarations", _declaration(declaration_id=str(uuid.uuid4()) + "\n")),
        ]
        for path, item in refused:
            response = await _post(h, path, fmt, item, "alice")
            assert response.status_code == 422, (path, item, response.text)
        array = await _post(h, "/v1/scans", fmt, [_scan(h, person_id="alice\n")] * 4, "alice")
        assert array.status_code == 202
        assert array.json()["accepted"] == 0
        assert len(array.json()["rejected"]) == 4

        # A device token for "alice\n" (minted before ids were checked whole) is refused.
        old_token_bodies: list[tuple[str, Any]] = [
            ("/v1/scans", _scan(h, person_id="alice\n")),
            ("/v1/scans", [_scan(h, person_id="alice\n")] * 4),
            ("/v1/declarations", _declaration(person_id="alice\n")),
        ]
        for path, body in old_token_bodies:
            response = await _post(h, path, fmt, body, "alice\n")
            assert response.status_code == 401, (path, response.text)
        assert h.publisher.records == []


def test_finding_8_a_revocation_is_final() -> None:
    revoked = RevokedVenues()
    revoked.apply(b"bar", venue_event("bar", None))
    assert "bar" not in revoked
    revoked.apply(b"bar", venue_event("bar", 1_700_000_100_000))
    assert "bar" in revoked
    revoked.apply(b"bar", venue_event("bar", None))  # the registration again, or a stray event
    assert "bar" in revoked
    revoked.apply(b"bar", None)  # a tombstone
    assert "bar" in revoked


async def test_finding_10_the_token_cache_never_outlives_the_tokens_exp() -> None:
    secret = "s" * 40
    expires = int(time.time()) + 1
    token = jwt.encode(
        {"sub": "dev-1", "role": "device", "pid": "p-1", "exp": expires}, secret, "HS256"
    )
    cache = TokenCache(secret)
    assert cache.principal(token).person_id == "p-1"  # verified, now cached
    while time.time() <= expires:  # noqa: ASYNC110 - waits for the wall clock to pass exp
        await asyncio.sleep(0.05)
    with pytest.raises(AuthError, match="expired"):
        cache.principal(token)
