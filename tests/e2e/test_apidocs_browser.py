"""Each service's `/docs` and `/redoc` render in a real Chromium with nothing from another host.

The services are the e2e session's real processes (the gateway with its workers and its
fast-path middleware). Swagger UI must show every operation of the service's OpenAPI document
and ReDoc every operation too, while every request the browser made stayed on 127.0.0.1.
Screenshots go to the test's temp folder; with SCANTRACE_UPDATE_SCREENSHOTS=1 also to
docs/screenshots/ (the pictures the documentation shows).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServiceProcess
from tests.support.browser import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVICES = ["gateway", "tracer", "reporter"]


def described(url: str) -> tuple[str, int]:
    """The title of the service's OpenAPI document and how many operations it has."""
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    return document["info"]["title"], sum(len(ops) for ops in document["paths"].values())


def refused(browser: Browser) -> list[str]:
    """Console messages of anything the pages' Content-Security-Policy blocked."""
    return [line for line in browser.console() if "Content Security Policy" in line]


def keep(browser: Browser, tmp_path: Path, name: str) -> None:
    browser.screenshot(tmp_path / name)
    if os.environ.get("SCANTRACE_UPDATE_SCREENSHOTS") == "1":
        browser.screenshot(SCREENSHOTS / name)


#: page -> (what each operation renders as, the script that draws it, screenshot prefix)
PAGES = {
    "docs": (".opblock", "swagger-ui-bundle.js", "apidocs"),
    "redoc": ('[data-section-id^="operation/"]', "redoc.standalone.js", "redoc"),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("service", SERVICES)
def test_docs_render_every_operation_offline(
    service: str,
    page: str,
    e2e_services: dict[str, ServiceProcess],
    browser: Browser,
    tmp_path: Path,
) -> None:
    operation, script, prefix = PAGES[page]
    url = e2e_services[service].url
    title, expected = described(url)
    browser.open(f"{url}/{page}")
    assert len(browser.wait_for(operation, minimum=expected)) == expected
    assert browser.driver.title.startswith(title)
    keep(browser, tmp_path, f"{prefix}-{service}.png")
    requests = browser.requests()
    assert any(r.url.endswith("/openapi.json") for r in requests)
    assert any(r.url.endswith(f"/docs-assets/{script}") for r in requests)
    assert not browser.foreign_requests(), browser.foreign_requests()
    assert not refused(browser)
