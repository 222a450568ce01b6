"""A real headless Chromium for tests, which records every request the browser makes.

Debian's `chromium` and `chromium-driver` (installed by `scripts/bootstrap.sh --test` as root),
driven by Selenium through the system chromedriver: nothing is downloaded at run time. Each
browser gets a fresh profile folder and the flags that keep Chromium's own background traffic
(updates, sync, safe browsing, QUIC probes) off, so what it records is what the page asked for.
Every request is read from the DevTools performance log (`Network.requestWillBeSent`, web
sockets too), before it would reach the network; and every host name but loopback resolves to
nothing, so a page that does reach for a CDN fails here the way it would offline and the test
machine never sends such traffic.

Use the `browser` fixture (tests/conftest.py):

    def test_page(browser: Browser) -> None:
        browser.open("http://127.0.0.1:8001/docs")
        browser.wait_for(".opblock")
        assert not browser.foreign_requests()
        browser.screenshot(Path("docs/screenshots/page.png"))
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

CHROMIUM: Final = "/usr/bin/chromium"
CHROMEDRIVER: Final = "/usr/bin/chromedriver"
LOOPBACK: Final = ("127.0.0.1", "localhost", "[::1]")
#: Schemes that never touch the network (a page's inline data, its own blobs, its scripts).
_LOCAL_SCHEMES: Final = frozenset({"data", "blob", "about", "chrome", "devtools", "javascript"})
_FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


@dataclass(frozen=True, slots=True)
class BrowserRequest:
    """One request the browser started: its URL, method and what asked for it."""

    url: str
    method: str
    resource_type: str
    initiator: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def is_local(self, hosts: Sequence[str] = LOOPBACK) -> bool:
        scheme = urlsplit(self.url).scheme
        return scheme in _LOCAL_SCHEMES or self.host in {h.strip("[]") for h in hosts}


def missing() -> str | None:
    """Why no browser can be started here, or None when Chromium and its driver are there."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if absent:
        return (
            f"missing {', '.join(absent)}: apt-get install chromium chromium-driver "
            "(scripts/bootstrap.sh --test does it as root)"
        )
    return None


class Browser:
    """One Chromium window; `requests` keeps every request since it started (or was cleared)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self._requests: list[BrowserRequest] = []

    def open(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        self.driver.get(url)

    def wait_for(self, css: str, *, minimum: int = 1, timeout: float = 30.0) -> list[Any]:
        """The elements matching `css` once at least `minimum` are there (else TimeoutError)."""
        from selenium.webdriver.common.by import By

        deadline = time.monotonic() + timeout
        while True:
            found: list[Any] = self.driver.find_elements(By.CSS_SELECTOR, css)
            if len(found) >= minimum:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {minimum} '{css}' after {timeout:.0f} s on "
                    f"{self.driver.current_url}; browser console: {self.console()}"
                )
            time.sleep(0.2)

    def requests(self) -> list[BrowserRequest]:
        """Every request so far, in the order the browser started them."""
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            params = event.get("params", {})
            if event.get("method") == "Network.requestWillBeSent":
                request = params["request"]
                self._requests.append(
                    BrowserRequest(
                        url=request["url"],
                        method=request.get("method", "GET"),
                        resource_type=params.get("type", ""),
                        initiator=params.get("initiator", {}).get("type", ""),
                    )
                )
            elif event.get("method") == "Network.webSocketCreated":
                self._requests.append(BrowserRequest(params["url"], "GET", "WebSocket", ""))
        return list(self._requests)

    def foreign_requests(self, hosts: Sequence[str] = LOOPBACK) -> list[BrowserRequest]:
        """The requests that would have left the machine (any host outside `hosts`)."""
        return [r for r in self.requests() if not r.is_local(hosts)]

    def clear_requests(self) -> None:
        self.requests()
        self._requests.clear()

    def console(self) -> list[str]:
        """The browser console's messages since the last call (errors explain blank pages)."""
        return [f"{e['level']}: {e['message']}" for e in self.driver.get_log("browser")]

    def screenshot(self, path: Path) -> Path:
        """A PNG of the window as it is now."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)):
            raise RuntimeError(f"Chromium could not write a screenshot to {path}")
        return path


@contextlib.contextmanager
def chromium(
    profile_dir: Path, *, width: int = 1280, height: int = 1000, language: str = "vi-VN"
) -> Iterator[Browser]:
    """A headless Chromium on a fresh profile in `profile_dir` (emptied first), then quit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    reason = missing()
    if reason is not None:
        raise RuntimeError(reason)
    shutil.rmtree(profile_dir, ignore_errors=True)
    profile_dir.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--lang={language}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile_dir / "driver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(60)
        yield Browser(driver)
    finally:
        driver.quit()


__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "LOOPBACK",
    "Browser",
    "BrowserRequest",
    "chromium",
    "missing",
]
