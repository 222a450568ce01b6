"""The one error type of the HTTP APIs, its body `{"error": "..."}` and its OpenAPI schema.

Routes raise `ApiError` (or a domain exception that the app translates into one, see
`scantrace_common.http.create_app`); one exception handler renders every refusal the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
from starlette.responses import Response

_JSON: Final = msgspec.json.Encoder()

#: The body of every error answer, as the OpenAPI documents declare it.
ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "what went wrong, what to do"}},
    "required": ["error"],
}
ERROR_REF: Final = "#/components/schemas/Error"


class ApiError(Exception):
    """A refusal the caller can act on: answered with `status` and `{"error": message}`.

    `retry_after_s` adds `Retry-After` (429, 503); `headers` adds others (`WWW-Authenticate`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retry_after_s: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(max(1, retry_after_s))

    def response(self) -> Response:
        return error_response(self.status, self.message, self.headers)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        _JSON.encode({"error": message}), status, dict(headers or {}), "application/json"
    )


def error_doc(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """An OpenAPI response of ours: JSON `{"error": "..."}` saying what went wrong."""
    doc: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if retry_after:
        doc["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return doc
