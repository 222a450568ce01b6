"""Property: whatever the body, content type or token, the gateway never answers 5xx."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scantrace_gateway.testing import Harness, harness

pytestmark = pytest.mark.unit

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
_field_names = st.sampled_from(
    [
        "scan_id",
        "person_id",
        "qr",
        "direction",
        "scanned_at",
        "declaration_id",
        "declared_at",
        "symptoms",
        "note",
    ]
)
_scanlike = st.dictionaries(_field_names, _values | st.just("p-1") | st.just("in"), max_size=9)
_documents = _values | _scanlike | st.lists(_scanlike, max_size=8)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["json", "msgpack", "raw"]))
    if kind == "raw":
        media = draw(st.sampled_from(["application/json", "application/msgpack", "text/plain", ""]))
        return media, draw(st.binary(max_size=300))
    document = draw(_documents)
    if kind == "json":
        return "application/json", msgspec.json.encode(document)
    return "application/msgpack", msgspec.msgpack.encode(document)


def test_random_bodies_never_give_a_server_error() -> None:
    loop = asyncio.new_event_loop()
    context = harness()
    h: Harness = loop.run_until_complete(context.__aenter__())
    tokens = [None, "junk", h.device_token("p-1")]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(["/v1/scans", "/v1/declarations", "/v1/devices"]),
        body=bodies(),
        token_index=st.integers(min_value=0, max_value=2),
    )
    def check(path: str, body: tuple[str, bytes], token_index: int) -> None:
        media, content = body
        headers: dict[str, Any] = {"content-type": media} if media else {}
        token = tokens[token_index]
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        response = loop.run_until_complete(h.client.post(path, content=content, headers=headers))
        assert response.status_code < 500, (path, body, response.text)
        assert "error" in response.json() or response.status_code in (201, 202)

    try:
        check()
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()
