"""POST /v1/devices: enrol a phone for a person; answers its device token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from scantrace_common.auth import mint_device_token
from scantrace_common.errors import error_doc
from scantrace_gateway.deps import GatewayDep, client_address, read_body
from scantrace_gateway.intake import body_format, decode_device
from scantrace_gateway.openapi import DEVICE_BODY, NO_TOKEN, json_content, request_body
from scantrace_gateway.responses import json_response

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
        400: error_doc("unparseable body"),
        413: error_doc("body too large"),
        415: error_doc("Content-Type is not JSON or msgpack"),
        422: error_doc("invalid person_id"),
        429: error_doc("rate limited", retry_after=True),
    },
)
async def post_device(request: Request, gateway: GatewayDep) -> Response:
    gateway.limit("enrol", client_address(request))
    fmt = body_format(request.headers.get("content-type"))
    person_id = decode_device(await read_body(request, 4096), fmt)
    # 128 random bits in the id's alphabet ([A-Za-z0-9_-], 24 characters).
    device_id = "d" + secrets.token_urlsafe(16)[:22]
    secret = gateway.settings.auth_secret.get_secret_value()
    token = mint_device_token(secret, device_id, person_id)
    return json_response(201, {"device_id": device_id, "token": token})
