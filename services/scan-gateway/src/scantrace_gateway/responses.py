"""Response bodies, pre-encoded where they are always the same."""

from __future__ import annotations

import msgspec
from fastapi.responses import Response

_json = msgspec.json.Encoder()


def json_response(status: int, content: object, headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(content), status, headers, "application/json")


_ONE_ACCEPTED = _json.encode({"accepted": 1, "duplicates": 0, "rejected": []})
_ONE_DUPLICATE = _json.encode({"accepted": 0, "duplicates": 1, "rejected": []})


def intake_result(accepted: int, duplicates: int, rejected: list[dict[str, object]]) -> Response:
    """202 with `{"accepted", "duplicates", "rejected"}`."""
    if not rejected and accepted + duplicates == 1:
        body = _ONE_ACCEPTED if accepted else _ONE_DUPLICATE
    else:
        body = _json.encode({"accepted": accepted, "duplicates": duplicates, "rejected": rejected})
    return Response(body, 202, None, "application/json")
