"""The one HTTP error layer (issue #14): `ApiError`, one handler, `{"error"}` in the documents,
and the id type written once with whole-string semantics (finding 7)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import jwt
import msgspec
import pytest
from fastapi import FastAPI, Path
from pydantic import BaseModel

from scantrace_common.auth import AuthError, mint_staff_token, verify_token
from scantrace_common.errors import ApiError
from scantrace_common.events import ScanEvent, decode, encode
from scantrace_common.http import create_app
from scantrace_common.ids import Id, IdStr, is_valid_id, is_valid_uuid
from scantrace_common.settings import CommonSettings

pytestmark = pytest.mark.unit
SECRET = "s" * 40


class DomainDown(Exception):
    pass


class Item(BaseModel):
    item_id: IdStr


def _app() -> FastAPI:
    app = create_app(
        title="t",
        settings=CommonSettings(environment="development"),
        readiness_checks={},
        translate={DomainDown: lambda exc: ApiError(503, f"down: {exc}", retry_after_s=7)},
    )

    @app.get("/items/{item_id}")
    async def get_item(item_id: Annotated[IdStr, Path()]) -> dict[str, str]:
        if item_id == "missing":
            raise ApiError(404, "no such item: check the id")
        if item_id == "down":
            raise DomainDown("broker")
        if item_id == "bug":
            raise RuntimeError("a bug with a secret inside")
        return {"item_id": item_id}

    @app.post("/items")
    async def post_item(item: Item) -> dict[str, str]:
        return {"item_id": item.item_id}

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_every_refusal_is_an_error_body() -> None:
    async with _client(_app()) as client:
        missing = await client.get("/items/missing")
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "no such item: check the id"},
        )
        down = await client.get("/items/down")
        assert (down.status_code, down.json()) == (503, {"error": "down: broker"})
        assert down.headers["retry-after"] == "7"
        invalid = await client.get("/items/a%20b")
        assert invalid.status_code == 422
        assert set(invalid.json()) == {"error"}
        unknown = await client.get("/nowhere")
        assert (unknown.status_code, set(unknown.json())) == (404, {"error"})


async def test_an_unexpected_exception_is_a_500_without_detail() -> None:
    async with _client(_app()) as client:
        answer = await client.get("/items/bug")
    assert answer.status_code == 500
    assert "secret" not in answer.text
    assert set(answer.json()) == {"error"}


async def test_finding_6_a_deeply_nested_body_is_a_400() -> None:
    body = "[" * 100_000 + "]" * 100_000
    async with _client(_app()) as client:
        answer = await client.post(
            "/items", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400
    assert set(answer.json()) == {"error"}


def test_openapi_documents_the_error_body_not_detail() -> None:
    document = _app().openapi()
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert '"detail"' not in text
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    refused = document["paths"]["/items"]["post"]["responses"]["422"]
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


@pytest.mark.parametrize("value", ["alice\n", "alice\r", "\nalice", "a b", "", "x" * 65, "é"])
def test_finding_7_an_id_is_a_whole_string(value: str) -> None:
    assert not is_valid_id(value)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(value, Id)
    with pytest.raises(ValueError, match="pattern"):
        Item(item_id=value)


def test_finding_7_an_event_with_a_newline_id_is_refused() -> None:
    scan = ScanEvent(
        scan_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        person_id="alice\n",  # msgspec does not validate on construction
        venue_id="v1",
        direction="in",
        scanned_at=1,
        received_at=1,
        device_id="d1",
    )
    with pytest.raises(ValueError, match="person_id"):
        decode(ScanEvent, encode(scan))


def test_ids_and_uuids_that_are_valid() -> None:
    assert is_valid_id("Alice_1.b-c")
    assert is_valid_id("x" * 64)
    assert is_valid_uuid("0F8FAD5B-d9cb-469f-a165-70867728950e")
    assert not is_valid_uuid("0f8fad5bd9cb469fa16570867728950e----")
    assert not is_valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950e\n")


def test_finding_10_a_staff_token_lives_at_most_12_hours() -> None:
    with pytest.raises(ValueError, match="lives"):
        mint_staff_token(SECRET, "alice", "admin", ttl_s=13 * 3600)
    forever: dict[str, Any] = {"sub": "alice", "role": "admin", "exp": int(time.time()) + 10**8}
    with pytest.raises(AuthError, match="at most 12 h"):
        verify_token(SECRET, jwt.encode(forever, SECRET, algorithm="HS256"))
    assert verify_token(SECRET, mint_staff_token(SECRET, "alice", "admin")).sub == "alice"


def test_finding_10_a_service_started_bare_is_not_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCANTRACE_ENVIRONMENT", raising=False)
    monkeypatch.delenv("SCANTRACE_AUTH_SECRET", raising=False)
    settings = CommonSettings()
    assert settings.environment == "production"
    with pytest.raises(ValueError, match="SCANTRACE_AUTH_SECRET"):
        settings.require_real_secret()
