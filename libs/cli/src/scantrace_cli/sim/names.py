"""Turning Vietnamese names into identifiers: `Biên Hòa` -> `bien-hoa`."""

from __future__ import annotations

import re
import unicodedata

_NOT_ID = re.compile(r"[^a-z0-9]+")


def ascii_fold(text: str) -> str:
    """Drop diacritics; `đ` has no decomposition, so it is mapped by hand."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slug(text: str) -> str:
    """Lower-case ASCII words joined by `-`: always within `[A-Za-z0-9_.-]`."""
    return _NOT_ID.sub("-", ascii_fold(text).lower()).strip("-")
