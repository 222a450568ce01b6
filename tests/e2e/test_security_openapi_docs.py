"""The OpenAPI documents themselves: every `$ref` resolves inside its document.

A reference that does not resolve makes clients and fuzzers (schemathesis) unable to build the
request body at all, so the body is never exercised. Documents come from `app.openapi()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_security_roles import EXPECTED, PUBLIC, openapi_documents

pytestmark = pytest.mark.unit


def refs(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(location, $ref) of every reference in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{where}/{index}")


def resolves(document: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize(
    "service",
    [
        "gateway",
        "tracer",
        "reporter",
    ],
)
def test_every_ref_resolves(service: str) -> None:
    document = openapi_documents()[service]
    broken = [(where, ref) for where, ref in refs(document) if not resolves(document, ref)]
    assert not broken, broken[:10]


#: SPEC 8: signing in is how one gets a token.
TOKENLESS = frozenset({"/v1/sessions"})


@pytest.mark.parametrize("service", ["tracer", "reporter"])
def test_every_staff_operation_declares_its_token_and_its_refusals(service: str) -> None:
    """The bearer scheme, and the 401 and 403 every token-checked operation can answer (the
    public ones, such as the safety map, declare neither)."""
    document = openapi_documents()[service]
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    undeclared = [
        (method, path)
        for path, operations in document["paths"].items()
        if path.startswith("/v1/") and path not in TOKENLESS
        for method, operation in operations.items()
        if EXPECTED.get((service, method.upper(), path)) != PUBLIC
        and (
            operation.get("security") != [{"bearerToken": []}]
            or not {"401", "403"} <= set(operation["responses"])
        )
    ]
    assert not undeclared, undeclared
    public = [
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if EXPECTED.get((service, method.upper(), path)) == PUBLIC
        # sign-in answers 401 for wrong credentials (SPEC 8), not for a missing token
        and ("security" in operation or ("401" in operation["responses"] and path not in TOKENLESS))
    ]
    assert not public, f"public operations that declare a token: {public}"


def test_the_tracers_times_are_date_times() -> None:
    """`from` and `to` are RFC 3339 in the document, so generated queries send times."""
    document = openapi_documents()["tracer"]
    formats = {
        (path, p["name"]): p["schema"].get("format")
        for path, operations in document["paths"].items()
        for operation in operations.values()
        for p in operation.get("parameters", [])
        if p["name"] in ("from", "to")
    }
    assert len(formats) == 8
    assert set(formats.values()) == {"date-time"}, formats


def test_the_reporters_lookups_and_writes_declare_their_errors() -> None:
    """404 where a unit or venue may not exist, 503 where a write needs Kafka, 409 on a reused id."""
    paths = openapi_documents()["reporter"]["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if "{" in path or path.startswith("/v1/compliance"):
                assert "404" in codes, (method, path)
            # an owner token is minted, not stored: nothing to publish, no 503
            if method in ("post", "delete") and not path.endswith("/owner-token"):
                assert "503" in codes, (method, path)
    assert "409" in paths["/v1/units"]["post"]["responses"]
    assert "409" in paths["/v1/venues"]["post"]["responses"]
