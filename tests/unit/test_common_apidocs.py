"""The API documentation pages of every service name no other host (they work offline).

Each service's app is built as its process builds it (the gateway with its fast-path
middleware too); the pages, and the assets they name, are fetched through ASGI.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from scantrace_common.apidocs import ASSETS_URL, CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.unit

_SECRET = "apidocs-test-secret-that-is-long-enough"
#: src=, href= and url(...) references, and the quoted URLs FastAPI's start-up script passes on.
_REFERENCE = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)|["'](https?://[^"']+)["']"""
)


def _apps() -> dict[str, FastAPI]:
    from scantrace_gateway.app import create_gateway_app
    from scantrace_gateway.settings import GatewaySettings
    from scantrace_reporter.app import create_reporter_app
    from scantrace_reporter.settings import ReporterSettings
    from scantrace_tracer.api import create_tracer_app
    from scantrace_tracer.settings import TracerSettings

    secret = SecretStr(_SECRET)
    return {
        "gateway": create_gateway_app(GatewaySettings(auth_secret=secret)),
        "tracer": create_tracer_app(TracerSettings(auth_secret=secret)),
        "reporter": create_reporter_app(ReporterSettings(auth_secret=secret)),
    }


def references(html: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in _REFERENCE.finditer(html)]


def test_references_are_found() -> None:
    """The pattern itself: a page that named a CDN would be caught."""
    html = '<script src="https://cdn.example/x.js"></script><link href="/a.css"> url: "//cdn.x/y"'
    assert references(html) == ["https://cdn.example/x.js", "/a.css"]
    assert references("const u = 'https://cdn.example/b.css'") == ["https://cdn.example/b.css"]


@pytest.mark.parametrize("service", ["gateway", "tracer", "reporter"])
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_name_no_other_host(service: str, page: str) -> None:
    app = _apps()[service]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answer = await client.get(page)
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        found = references(answer.text)
        assert found, "the page names its assets"
        foreign = [ref for ref in found if urlsplit(ref).netloc or ref.startswith("//")]
        assert not foreign, foreign
        for ref in found:
            if ref.startswith(ASSETS_URL) or ref == "/openapi.json":
                fetched = await client.get(ref)
                assert fetched.status_code == 200, ref
                assert fetched.content


async def test_assets_are_served_and_redocs_logo_is_local() -> None:
    transport = httpx.ASGITransport(app=_apps()["tracer"])
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        redoc = await client.get(f"{ASSETS_URL}/redoc.standalone.js")
        assert redoc.headers["content-type"].startswith("text/javascript")
        assert b"cdn.redoc.ly" not in redoc.content
        assert f"{ASSETS_URL}/favicon.png".encode() in redoc.content
        css = await client.get(f"{ASSETS_URL}/swagger-ui.css")
        assert css.headers["content-type"].startswith("text/css")
        assert (await client.get(f"{ASSETS_URL}/../pyproject.toml")).status_code == 404
        assert (await client.get(f"{ASSETS_URL}/other.js")).status_code == 404
