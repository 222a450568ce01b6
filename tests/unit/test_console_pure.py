"""The console's pieces without servers: catalogues, tables, redirects, CSRF and the SVG drawings."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from scantrace_console.charts import compliance_chart
from scantrace_console.graph import exposure_graph
from scantrace_console.i18n import LANGUAGES, Translator, catalogue
from scantrace_console.tables import Column, table
from scantrace_console.timeline import visits_timeline
from scantrace_console.views.signin import safe_next


def test_every_language_has_the_same_texts() -> None:
    keys = [set(catalogue(lang)) for lang in LANGUAGES]
    assert keys[0] == keys[1]
    assert Translator("xx").lang == "vi"
    assert Translator("en")("table.rows", total=3) == "3 rows"


def test_every_text_the_templates_name_is_in_the_catalogue() -> None:
    templates = resources.files("scantrace_console").joinpath("templates")
    named = set()
    for template in templates.iterdir():
        named |= set(re.findall(r't\("([a-z_0-9.]+[a-z_0-9])"', template.read_text("utf-8")))
    assert named <= set(catalogue("vi")), named - set(catalogue("vi"))


def test_tables_sort_page_and_keep_the_query() -> None:
    rows = [{"n": i, "name": f"u{i:03d}"} for i in range(120)] + [{"n": None, "name": "none"}]
    columns = (Column("n", "n", numeric=True), Column("name", "name"))
    query = {"sort": "n", "dir": "desc", "page": "2", "unit_id": "dn"}
    page = table(columns, rows, query, default_sort="name")
    assert (page.pages, page.page, page.total) == (3, 2, 121)
    assert page.rows[0]["n"] == 69
    assert "unit_id=dn" in page.link(page=3)
    assert "dir=asc" in page.sort_link("n")
    assert table(columns, rows, {"sort": "evil"}, default_sort="name").sort == "name"
    assert table(columns, rows, {"page": "x"}, default_sort="name").page == 1
    names = [{"name": n} for n in ("Phường Trảng Dài", "Phường Tân Phong", "Đồng Nai", "Dầu Giây")]
    ordered = table((Column("name", "name"),), names, {}, default_sort="name").rows
    assert [r["name"] for r in ordered] == [
        "Dầu Giây",
        "Đồng Nai",
        "Phường Tân Phong",
        "Phường Trảng Dài",
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/persons/p-1", "/persons/p-1"),
        ("//evil.example/x", "/persons"),
        ("https://evil.example", "/persons"),
        ("/\\evil", "/persons"),
        ("", "/persons"),
    ],
)
def test_after_signing_in_only_console_paths(given: str, expected: str) -> None:
    assert safe_next(given, "epidemiologist") == expected


def test_drawings_escape_what_they_show_and_use_no_inline_style() -> None:
    hostile = "<script>alert(1)</script>"
    contacts = [
        {
            "person_id": "f1",
            "depth": 1,
            "via": None,
            "total_overlap_minutes": 40,
            "venues": [hostile],
        },
        {"person_id": "f2", "depth": 2, "via": "f1", "total_overlap_minutes": 20, "venues": ["v2"]},
    ]
    visits = [{"venue_id": hostile, "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T02:00:00Z"}]
    history = [
        {"date": f"2026-01-{d:02d}", "active_ratio": 0.5, "declaration_ratio": None}
        for d in range(1, 31)
    ]
    for svg in (
        exposure_graph("case", contacts),
        visits_timeline(visits, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "Asia/Ho_Chi_Minh"),
        compliance_chart(history),
    ):
        assert "<script>" not in svg
        assert "style=" not in svg
    graph = str(exposure_graph("case", contacts))
    assert "40 min" in graph
    assert "v2 · 20 min" in graph


def test_a_forged_csrf_field_with_any_characters_is_refused_not_an_error() -> None:
    """Found by schemathesis: compare_digest raised TypeError on non-ASCII text (a 500)."""
    from redis.asyncio import Redis

    from scantrace_console.sessions import Sessions

    store = Sessions(Redis(), "t.", "s" * 40)  # no command is sent: the client never connects
    assert not store.csrf_ok("cookie", "\u00a5\u00f7 forged")
    assert store.csrf_ok("cookie", store.csrf_token("cookie"))
