"""The browser fixture itself: it records a request for another host, and that request fails.

A page on 127.0.0.1 that names a CDN must show up in `foreign_requests`, or the offline tests
that rely on the fixture would pass for the wrong reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Browser
from tests.support.stub_http import serve

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PAGE = (
    b"<!doctype html><title>probe</title><p id=ok>local</p>"
    b'<img src="https://cdn.example.com/logo.png"><script src="/local.js"></script>'
)


def _answer(path: str) -> tuple[int, str, bytes]:
    if path == "/":
        return 200, "text/html", PAGE
    return 200, "text/javascript", b"document.title = 'ran';"


@pytest.fixture
def page_url() -> Iterator[str]:
    with serve(_answer) as url:
        yield url


def test_a_request_for_another_host_is_recorded(browser: Browser, page_url: str) -> None:
    browser.open(page_url)
    assert browser.wait_for("#ok")[0].text == "local"
    assert browser.driver.title == "ran"
    urls = [r.url for r in browser.requests()]
    assert page_url in urls
    assert f"{page_url}local.js" in urls
    foreign = browser.foreign_requests()
    assert [r.url for r in foreign] == ["https://cdn.example.com/logo.png"]
    assert foreign[0].resource_type == "Image"
    # the name did not resolve: the image never loaded
    loaded = browser.driver.execute_script("return document.images[0].naturalWidth")
    assert loaded == 0
    browser.clear_requests()
    assert browser.requests() == []
