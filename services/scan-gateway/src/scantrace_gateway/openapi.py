"""The pieces of the gateway's OpenAPI document the routes declare by hand.

The hot routes read their bodies themselves (msgspec, not pydantic), so FastAPI cannot derive
their schemas: the msgspec structs' schemas go under `components.schemas`, with references
that point there (a `#/$defs/...` reference would point outside the document and leave
clients and fuzzers unable to build a body), next to the bearer security scheme. Error answers
use the common `{"error"}` schema (`scantrace_common.errors.error_doc`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

from scantrace_common.errors import error_doc
from scantrace_common.ids import Uuid
from scantrace_gateway.intake import DeclarationIn, DeviceIn, ScanIn

BEARER = "deviceToken"
#: `security` of an operation that needs a device token, and of one that needs none.
DEVICE_TOKEN: list[dict[str, list[str]]] = [{BEARER: []}]
NO_TOKEN: list[dict[str, list[str]]] = []

_REF = "#/components/schemas/{name}"
(_SCAN_REF, _DECLARATION_REF, _DEVICE_REF), _STRUCTS = msgspec.json.schema_components(
    [ScanIn, DeclarationIn, DeviceIn], ref_template=_REF
)
# Intake checks scan ids with one regex per batch rather than per field; document the format.
_STRUCTS["ScanIn"]["properties"]["scan_id"] = msgspec.json.schema(Uuid)

SCHEMAS: dict[str, Any] = {
    **_STRUCTS,
    "IntakeResult": {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "duplicates": {"type": "integer", "minimum": 0},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "scan_id": {"type": ["string", "null"]},
                        "error": {"type": "string"},
                    },
                    "required": ["index", "scan_id", "error"],
                },
            },
        },
        "required": ["accepted", "duplicates", "rejected"],
    },
    "Enrolled": {
        "type": "object",
        "properties": {"device_id": {"type": "string"}, "token": {"type": "string"}},
        "required": ["device_id", "token"],
    },
}


def ref(name: str) -> dict[str, str]:
    assert name in SCHEMAS, name
    return {"$ref": _REF.format(name=name)}


SCAN_BODY: dict[str, Any] = {"oneOf": [_SCAN_REF, {"type": "array", "items": _SCAN_REF}]}
DECLARATION_BODY: dict[str, Any] = _DECLARATION_REF
DEVICE_BODY: dict[str, Any] = _DEVICE_REF

_MEDIA = ("application/json", "application/msgpack")


def request_body(schema: dict[str, Any], media: tuple[str, ...] = _MEDIA) -> dict[str, Any]:
    return {"required": True, "content": {m: {"schema": schema} for m in media}}


def json_content(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": ref(name)}}}


_WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"}}}


def intake_errors(*, too_large: str, invalid: str) -> dict[int | str, dict[str, Any]]:
    """The refusals every token-protected intake route can answer."""
    return {
        400: error_doc("unparseable body (also: nested too deeply)"),
        401: {**error_doc("no valid device token"), "headers": _WWW_AUTHENTICATE},
        403: error_doc("a valid token that is not a device token"),
        413: error_doc(too_large),
        415: error_doc("Content-Type is not JSON or msgpack"),
        422: error_doc(invalid),
        429: error_doc("rate limited", retry_after=True),
        503: error_doc(
            "neither Kafka nor the spool can store it now, or (scans) the venue revocations are"
            " not read yet after a start; nothing was accepted",
            retry_after=True,
        ),
    }


def install(app: FastAPI) -> None:
    """Adds the schemas and the security scheme to the document FastAPI generates."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(SCHEMAS)
            components.setdefault("securitySchemes", {})[BEARER] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "device token from POST /v1/devices",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
