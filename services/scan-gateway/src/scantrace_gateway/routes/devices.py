"""POST /v1/devices: enrol a phone for a person; answers its device token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from scantrace_common.auth import mint_device_token
from scantrace_gateway.intake import BodyError, Invalid, body_format, decode_device
from scantrace_gateway.openapi import (
    DEVICE_BODY,
    NO_TOKEN,
    RETRY_AFTER,
    error_response,
    json_content,
    request_body,
)
from scantrace_gateway.responses import error, json_response
from scantrace_gateway.state import HttpError, client_address, gateway_of, read_body

router = APIRouter(tags=["devices"])


@router.post(
    "/v1/devices",
    status_code=201,
    summary="Enrol a device for a person (no token needed; rate-limited per address)",
    openapi_extra={
        "requestBody": request_body(DEVICE_BODY, ("application/json",)),
        "security": NO_TOKEN,
    },
    responses={
        201: {"description": "enrolled", **json_content("Enrolled")},
        400: error_response("unparseable body"),
        413: error_response("body too large"),
        415: error_response("Content-Type is not JSON or msgpack"),
        422: error_response("invalid person_id"),
        429: {**error_response("rate limited"), "headers": RETRY_AFTER},
    },
)
async def post_device(request: Request) -> Response:
    gateway = gateway_of(request)
    try:
        gateway.limit("enrol", client_address(request))
        fmt = body_format(request.headers.get("content-type"))
        person_id = decode_device(await read_body(request, 4096), fmt)
    except HttpError as exc:
        return error(exc.status, str(exc), exc.headers)
    except BodyError as exc:
        return error(exc.status, str(exc))
    except Invalid as exc:
        return error(422, str(exc))
    # 128 random bits in the id's alphabet ([A-Za-z0-9_-], 24 characters).
    device_id = "d" + secrets.token_urlsafe(16)[:22]
    secret = gateway.settings.auth_secret.get_secret_value()
    token = mint_device_token(secret, device_id, person_id)
    return json_response(201, {"device_id": device_id, "token": token})
