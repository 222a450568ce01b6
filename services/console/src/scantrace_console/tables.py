"""Sorting and paging a table's rows on the server, so tables work without JavaScript: the
column headers and the pager are links carrying `sort`, `dir` and `page`."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

PAGE_SIZE: Final = 50


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    sort: str
    descending: bool
    page: int
    pages: int
    total: int
    query: Mapping[str, str]

    def link(self, **changes: object) -> str:
        """The current page's query with `changes` (for headers and the pager)."""
        params = {**self.query, "sort": self.sort, "dir": "desc" if self.descending else "asc"}
        params["page"] = str(self.page)
        params.update({k: str(v) for k, v in changes.items()})
        return "?" + urlencode(params)

    def sort_link(self, key: str) -> str:
        descending = not self.descending if key == self.sort else False
        return self.link(sort=key, dir="desc" if descending else "asc", page=1)


def _sort_key(value: Any) -> tuple[int, Any]:
    # numbers before strings, so the two are never compared with each other
    if isinstance(value, int | float):
        return (0, value)
    return (1, (collation_key(str(value)), str(value)))


def collation_key(text: str) -> str:
    """Vietnamese order, near enough: letters first without their marks (Tân before Trảng)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def table(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    query: Mapping[str, str],
    *,
    default_sort: str,
    default_desc: bool = False,
    page_size: int = PAGE_SIZE,
) -> Table:
    keys = {c.key for c in columns}
    sort = query.get("sort", default_sort)
    if sort not in keys:
        sort = default_sort
    descending = query.get("dir", "desc" if default_desc else "asc") == "desc"
    known = [r for r in rows if r.get(sort) is not None]
    ordered = sorted(known, key=lambda r: _sort_key(r.get(sort)), reverse=descending)
    ordered += [r for r in rows if r.get(sort) is None]  # blanks last, either way
    pages = max(1, -(-len(ordered) // page_size))
    try:
        page = min(max(1, int(query.get("page", "1"))), pages)
    except ValueError:
        page = 1
    kept = {k: v for k, v in query.items() if k not in ("sort", "dir", "page", "format")}
    return Table(
        columns=columns,
        rows=ordered[(page - 1) * page_size : page * page_size],
        sort=sort,
        descending=descending,
        page=page,
        pages=pages,
        total=len(ordered),
        query=kept,
    )
