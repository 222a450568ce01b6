"""Swagger UI (`/docs`) and ReDoc (`/redoc`) served by the service itself, with no CDN.

FastAPI's own pages load their scripts, styles and favicon from a CDN, so on a provincial
network without internet they are blank. The assets here are the copies shipped inside the
`fastapi-offline` wheel (Swagger UI 5, ReDoc 2; pinned by uv.lock), served from
`/docs-assets/`; the pages name no other host, and their Content-Security-Policy keeps the
browser on this one even if a future asset tried otherwise.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

from scantrace_common.errors import ApiError

DOCS_URL: Final = "/docs"
REDOC_URL: Final = "/redoc"
ASSETS_URL: Final = "/docs-assets"

_MEDIA_TYPES: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
#: ReDoc draws its sidebar's "by Redocly" logo from this CDN address, with no option to turn it
#: off; the copy served here points it at the local favicon instead.
_REDOC_LOGO: Final = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
#: Inline scripts and styles: the pages' own start-up script and the styles both UIs inject.
#: ReDoc's search runs in a worker made from a blob.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'"
)


@functools.cache
def asset(name: str) -> bytes:
    """One asset's bytes, read once per process (they are a few megabytes in all)."""
    data = (files("fastapi_offline") / "static" / name).read_bytes()
    if name == "redoc.standalone.js":
        data = data.replace(_REDOC_LOGO, f"{ASSETS_URL}/favicon.png".encode())
    return data


def _page(html: HTMLResponse) -> HTMLResponse:
    html.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return html


def install_api_docs(app: FastAPI) -> None:
    """Add `/docs`, its OAuth2 redirect, `/redoc` and `/docs-assets/{name}` to `app`.

    Create the app with `docs_url=None, redoc_url=None` so FastAPI adds no CDN pages of its own.
    """
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = f"{DOCS_URL}/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
                # The online validator badge would send the document to another host.
                swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
            )
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )

    @app.get(f"{ASSETS_URL}/{{name}}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        media_type = _MEDIA_TYPES.get(name)
        if media_type is None:
            raise ApiError(404, "no such documentation asset")
        return Response(
            asset(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )


__all__ = ["ASSETS_URL", "CONTENT_SECURITY_POLICY", "DOCS_URL", "REDOC_URL", "install_api_docs"]
