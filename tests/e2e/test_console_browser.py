"""The console in a real Chromium against the e2e session's real processes (gateway, tracer,
reporter, console, Kafka, Redis): a small province is registered through the reporter and lived
through the gateway, then each role signs in and works as a person would, with no request leaving
127.0.0.1 and nothing blocked by the Content-Security-Policy.

Screenshots go to the test's temp folder; with SCANTRACE_UPDATE_SCREENSHOTS=1 also to
docs/screenshots/ (the pictures docs/console.md shows).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from scantrace_common.timeparse import now_ms
from tests.e2e.conftest import E2EStack, ServiceProcess, free_port
from tests.support.browser import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "mật khẩu của tỉnh 2021"
MIN = 60_000
TZ = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Province:
    tag: str
    units: dict[str, str]  # role in the tree -> unit_id
    case: str
    f1: tuple[str, ...]
    f2: tuple[str, ...]
    staff: dict[str, str]  # role -> staff_id

    @property
    def today(self) -> str:
        return datetime.now(ZoneInfo(TZ)).date().isoformat()


def keep(browser: Browser, tmp_path: Path, name: str) -> None:
    """A screenshot of the whole page (the window grown to its height, then put back)."""
    size = browser.driver.get_window_size()
    height = browser.driver.execute_script("return document.documentElement.scrollHeight")
    browser.driver.set_window_size(size["width"], min(int(height) + 140, 2400))
    browser.screenshot(tmp_path / name)
    if os.environ.get("SCANTRACE_UPDATE_SCREENSHOTS") == "1":
        browser.screenshot(SCREENSHOTS / name)
    browser.driver.set_window_size(size["width"], size["height"])


def _scan(person: str, qr: str, direction: str, at: int) -> dict[str, object]:
    return {
        "scan_id": str(uuid.uuid4()),
        "person_id": person,
        "qr": qr,
        "direction": direction,
        "scanned_at": at,
    }


@pytest.fixture(scope="module")
def province(e2e_stack: E2EStack, e2e_services: dict[str, ServiceProcess]) -> Province:
    """Units, venues, staff accounts, and a morning of scans: a case, 3 F1 and 2 F2."""
    tag = uuid.uuid4().hex[:5]
    units = {
        "province": f"dn-{tag}",
        "bien_hoa": f"dn-{tag}-bh",
        "long_khanh": f"dn-{tag}-lk",
        "tan_phong": f"dn-{tag}-bh-tp",
        "trang_dai": f"dn-{tag}-bh-td",
    }
    admin = {"Authorization": f"Bearer {e2e_stack.token('admin')}"}
    reporter = httpx.Client(base_url=e2e_services["reporter"].url, headers=admin, timeout=30)
    tree = [
        (units["province"], "Tỉnh Đồng Nai", None, "province"),
        (units["bien_hoa"], "Thành phố Biên Hòa", units["province"], "district"),
        (units["long_khanh"], "Thành phố Long Khánh", units["province"], "district"),
        (units["tan_phong"], "Phường Tân Phong", units["bien_hoa"], "commune"),
        (units["trang_dai"], "Phường Trảng Dài", units["bien_hoa"], "commune"),
    ]
    for unit_id, name, parent, level in tree:
        body = {"unit_id": unit_id, "name": name, "parent_id": parent, "level": level}
        assert reporter.post("/v1/units", json=body).status_code == 201
    venues = {
        "pho": (f"pho-{tag}", "Quán phở Hòa", "restaurant", units["tan_phong"]),
        "cho": (f"cho-{tag}", "Chợ Tân Phong", "market", units["tan_phong"]),
        "truong": (f"truong-{tag}", "Trường THCS Trảng Dài", "school", units["trang_dai"]),
        "ubnd": (f"ubnd-{tag}", "UBND thành phố Long Khánh", "office", units["long_khanh"]),
    }
    qr = {}
    for key, (venue_id, name, kind, unit_id) in venues.items():
        body = {"venue_id": venue_id, "name": name, "kind": kind, "unit_id": unit_id}
        created = reporter.post("/v1/venues", json=body)
        assert created.status_code == 201, created.text
        qr[key] = created.json()["qr"]
    staff = {"admin": f"admin-{tag}", "official": f"cb-{tag}", "epidemiologist": f"epi-{tag}"}
    for role, staff_id in staff.items():
        account: dict[str, object] = {
            "staff_id": staff_id,
            "name": f"Nguyễn Văn {role[:3].upper()}",
            "role": role,
            "password": PASSWORD,
        }
        if role == "official":
            account["units"] = [units["bien_hoa"]]
        assert reporter.post("/v1/staff", json=account).status_code == 201
    case, f1, f2 = f"ca-{tag}", (f"a-{tag}", f"b-{tag}", f"c-{tag}"), (f"d-{tag}", f"e-{tag}")
    base = (now_ms() // MIN - 150) * MIN
    plan: dict[str, list[tuple[str, int, int | None]]] = {  # person -> [(venue, in, out)]
        case: [("pho", 0, 60), ("cho", 70, 100)],
        # others, now: today's compliance is never empty, whatever the hour (none meets the case)
        f"w1-{tag}": [("ubnd", -1, None)],
        f"w2-{tag}": [("cho", -1, None)],
        f1[0]: [("pho", 10, 50), ("truong", 55, 120)],
        f1[1]: [("pho", 20, 70)],
        f1[2]: [("cho", 75, 110)],
        f2[0]: [("truong", 60, 115)],
        f2[1]: [("truong", 80, 120)],
    }
    with httpx.Client(base_url=e2e_services["gateway"].url, timeout=30) as gateway:
        for person, stays in plan.items():
            token = gateway.post("/v1/devices", json={"person_id": person}).json()["token"]
            scans = [
                _scan(person, qr[v], d, now_ms() - MIN if m == -1 else base + m * MIN)
                for v, t_in, t_out in stays
                for d, m in (("in", t_in), ("out", t_out))
                if m is not None
            ]
            answer = gateway.post(
                "/v1/scans", json=scans, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 202, answer.text
    epi = {"Authorization": f"Bearer {e2e_stack.token('epidemiologist')}"}
    window = {"from": base - 60 * MIN, "to": now_ms() + 5 * MIN, "depth": 2}
    with httpx.Client(base_url=e2e_services["tracer"].url, headers=epi, timeout=30) as tracer:
        deadline = time.monotonic() + 90
        while True:
            contacts = tracer.get(f"/v1/persons/{case}/exposures", params=window).json()["contacts"]
            if {c["person_id"] for c in contacts} >= {*f1, *f2}:
                break
            assert time.monotonic() < deadline, contacts
            time.sleep(0.5)
    reporter.close()
    return Province(tag, units, case, f1, f2, staff)


def sign_in(
    browser: Browser,
    console_url: str,
    staff_id: str,
    password: str = PASSWORD,
    *,
    then: str = "header .me",
) -> None:
    """Fill and send the sign-in form, then wait for `then` (signed in, by default)."""
    from selenium.webdriver.common.by import By

    browser.open(f"{console_url}/signin")
    browser.wait_for("input[name=staff_id]")[0].send_keys(staff_id)
    browser.driver.find_element(By.NAME, "password").send_keys(password)
    browser.driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    browser.wait_for(then)


def text_of(browser: Browser) -> str:
    from selenium.webdriver.common.by import By

    body: str = browser.driver.find_element(By.TAG_NAME, "body").text
    return body


def clean(browser: Browser) -> None:
    """Nothing left the machine and the CSP blocked nothing."""
    assert not browser.foreign_requests(), browser.foreign_requests()
    blocked = [line for line in browser.console() if "Content Security Policy" in line]
    assert not blocked, blocked


def test_sign_in_page_is_vietnamese_and_refuses_a_wrong_password(
    browser: Browser, console_url: str, province: Province, tmp_path: Path
) -> None:
    browser.open(f"{console_url}/")
    browser.wait_for("input[name=staff_id]")
    assert "Đăng nhập" in text_of(browser)
    keep(browser, tmp_path, "console-signin.png")
    sign_in(browser, console_url, province.staff["admin"], "not the password", then=".notice.error")
    assert "Mã cán bộ hoặc mật khẩu không đúng" in text_of(browser)
    clean(browser)


def test_admin_drills_down_compliance_downloads_csv_and_manages_staff(
    browser: Browser, console_url: str, province: Province, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, console_url, province.staff["admin"])
    browser.open(f"{console_url}/compliance?unit_id={province.units['province']}")
    browser.wait_for("svg.chart")
    page = text_of(browser)
    assert "Tỉnh Đồng Nai" in page
    assert "Thành phố Biên Hòa" in page
    keep(browser, tmp_path, "console-compliance-province.png")
    browser.driver.find_element(By.LINK_TEXT, "Thành phố Biên Hòa").click()
    browser.wait_for("nav.crumbs strong")
    browser.driver.find_element(By.LINK_TEXT, "Phường Tân Phong").click()
    crumbs = browser.wait_for("nav.crumbs")[0].text
    assert "Tỉnh Đồng Nai" in crumbs
    assert "Thành phố Biên Hòa" in crumbs
    assert "Phường Tân Phong" in crumbs
    keep(browser, tmp_path, "console-compliance-commune.png")
    link = browser.driver.find_element(By.CSS_SELECTOR, "a[download]").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in browser.driver.get_cookies()}
    csv = httpx.get(link, headers={"Cookie": f"st_session={cookies['st_session']}"})
    assert csv.status_code == 200
    assert csv.text.splitlines()[0].startswith("date,")
    browser.open(f"{console_url}/staff")
    browser.wait_for("form.stacked")
    new_id = f"epi2-{province.tag}"
    for name, value in (("staff_id", new_id), ("name", "Lê Thị Hoa"), ("password", PASSWORD)):
        browser.driver.find_element(By.CSS_SELECTOR, f"form.stacked input[name={name}]").send_keys(
            value
        )
    browser.driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    browser.wait_for(".notice.ok")
    assert new_id in text_of(browser)
    keep(browser, tmp_path, "console-staff.png")
    clean(browser)


def test_an_official_sees_no_unit_outside_their_scope(
    browser: Browser, console_url: str, province: Province, tmp_path: Path
) -> None:
    sign_in(browser, console_url, province.staff["official"])
    browser.wait_for("svg.chart")
    page = text_of(browser)
    assert "Thành phố Biên Hòa" in page
    assert "Phường Tân Phong" in page
    assert "Tỉnh Đồng Nai" not in page
    assert "Long Khánh" not in page
    keep(browser, tmp_path, "console-compliance-official.png")
    for outside in (province.units["province"], province.units["long_khanh"]):
        browser.open(f"{console_url}/compliance?unit_id={outside}")
        browser.wait_for(".notice.error")
        page = text_of(browser)
        assert "nằm ngoài phạm vi" in page
        assert "Long Khánh" not in page
        assert "Tỉnh Đồng Nai" not in page
    browser.open(f"{console_url}/staff")
    browser.wait_for("section.problem")
    assert "Không có quyền truy cập" in text_of(browser)
    clean(browser)


def test_an_epidemiologist_goes_from_a_person_to_the_f2_graph(
    browser: Browser, console_url: str, province: Province, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, console_url, province.staff["epidemiologist"])
    browser.wait_for("input[name=person_id]")[0].send_keys(province.case)
    browser.driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    browser.wait_for("svg.timeline rect.visit", minimum=2)
    assert "Quán phở Hòa" not in text_of(browser)  # visits show venue ids, never invented names
    keep(browser, tmp_path, "console-person.png")
    person_page = browser.driver.current_url
    browser.driver.find_element(By.LINK_TEXT, f"pho-{province.tag}").click()
    browser.wait_for("table.data tbody tr td a", minimum=3)  # the case, a and b were there
    keep(browser, tmp_path, "console-venue.png")
    browser.open(person_page)
    browser.wait_for("svg.timeline")
    browser.driver.find_element(By.PARTIAL_LINK_TEXT, "F1 và F2").click()
    browser.wait_for("svg.graph .node.f2", minimum=2)
    assert len(browser.wait_for("svg.graph .node.f1", minimum=3)) == 3
    table = text_of(browser)
    for person in (*province.f1, *province.f2):
        assert person in table
    keep(browser, tmp_path, "console-exposures.png")
    # open the case from there and follow it until its F1 contacts are notified
    exposures_page = browser.driver.current_url
    browser.driver.find_element(By.CSS_SELECTOR, "form[action='/cases'] button").click()
    browser.wait_for("[role=status].ok", timeout=60)
    assert "3 người tiếp xúc F1" in text_of(browser)
    for person in province.f1:
        assert person in text_of(browser)
    keep(browser, tmp_path, "console-case.png")
    browser.open(exposures_page)
    browser.wait_for("svg.graph")
    # sort by person id, ascending: the first row is the smallest id
    browser.driver.find_element(By.LINK_TEXT, "Người tiếp xúc").click()
    first = browser.wait_for("table.data tbody tr td a")[0].text
    assert first == min((*province.f1, *province.f2))
    clean(browser)
    browser.driver.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    browser.wait_for("input[name=staff_id]")
    assert "Bạn đã đăng xuất" in text_of(browser)


@pytest.fixture
def console_without_tracer(
    e2e_stack: E2EStack, e2e_services: dict[str, ServiceProcess]
) -> Iterator[str]:
    """A second console process whose tracer address answers nothing (the tracer "stopped")."""
    port = free_port()
    env = {
        **os.environ,
        **e2e_stack.env,
        "SCANTRACE_CONSOLE_PORT": str(port),
        "SCANTRACE_REPORTER_URL": e2e_services["reporter"].url,
        "SCANTRACE_TRACER_URL": f"http://127.0.0.1:{free_port()}",
    }
    log_path = e2e_stack.state_dir / "console-no-tracer.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "scantrace_console"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess("console", f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, service.log_tail()
            time.sleep(0.3)
        yield service.url
    finally:
        service.stop()


def test_a_page_whose_service_is_down_says_so(
    browser: Browser, console_without_tracer: str, province: Province, tmp_path: Path
) -> None:
    sign_in(browser, console_without_tracer, province.staff["epidemiologist"])
    browser.open(f"{console_without_tracer}/persons/{province.case}")
    browser.wait_for("section.problem")
    page = text_of(browser)
    assert "Dịch vụ tạm thời không khả dụng" in page
    assert "dịch vụ truy vết" in page
    assert "Traceback" not in page
    keep(browser, tmp_path, "console-unavailable.png")
    clean(browser)


def test_english_is_one_click_away(
    browser: Browser, console_url: str, province: Province, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, console_url, province.staff["official"])
    browser.driver.find_element(By.LINK_TEXT, "English").click()
    browser.wait_for("svg.chart")
    assert "QR check-in compliance" in text_of(browser)
    keep(browser, tmp_path, "console-compliance-english.png")
    clean(browser)
