"""The texts of the console, one catalogue per language (`i18n/vi.json`, `i18n/en.json`).

Vietnamese is the default; `?lang=en` (the switch in every page's header) keeps English in a
cookie. A key missing from a catalogue shows as itself, and a unit test keeps the two
catalogues' keys equal.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

LANGUAGES: Final = ("vi", "en")
DEFAULT_LANGUAGE: Final = "vi"
LANG_COOKIE: Final = "st_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = resources.files("scantrace_console").joinpath(f"i18n/{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._texts = catalogue(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts.get(key, key)
        return text.format(**values) if values else text
