"""Identifier formats of SPEC section 2, written once for every schema and check.

`ID_PATTERN` is anchored so that it means a whole-string match under every engine that reads
it: msgspec and Python's `re.search` let `$` match before a final newline, so `(?!\\n)` refuses
that position (`"alice\\n"` is not an id); JSON Schema readers (ECMA regexes) read it the same.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec
from pydantic import StringConstraints

ID_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,64}$(?!\n)"
ID_RE: Final = re.compile(ID_PATTERN)
#: The UUID's characters without anchors, for checks that match many ids in one pass.
UUID_FORM: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
UUID_PATTERN: Final = rf"^{UUID_FORM}$(?!\n)"
UUID_RE: Final = re.compile(UUID_PATTERN)
NAMESPACE_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,40}$(?!\n)")
ID_HELP: Final = "1 to 64 characters of A-Z a-z 0-9 _ . -"

#: person_id, venue_id, unit_id, device_id, staff_id in msgspec structs (events, gateway intake).
Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
Uuid = Annotated[str, msgspec.Meta(pattern=UUID_PATTERN)]
#: The same id in pydantic models and FastAPI parameters (a compiled pattern: Python's engine,
#: which reads the lookahead; pydantic's default engine does not).
IdStr = Annotated[str, StringConstraints(pattern=ID_RE)]
UuidStr = Annotated[str, StringConstraints(pattern=UUID_RE)]


def is_valid_id(value: str) -> bool:
    return ID_RE.search(value) is not None


def is_valid_uuid(value: str) -> bool:
    """scan_id, declaration_id, case_id: the 8-4-4-4-12 hexadecimal form, any case."""
    return UUID_RE.search(value) is not None
