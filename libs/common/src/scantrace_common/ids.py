"""Identifier formats of SPEC section 2."""

from __future__ import annotations

import re
import uuid

#: person_id, venue_id, unit_id, device_id.
ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def is_valid_id(value: str) -> bool:
    return ID_RE.fullmatch(value) is not None


def is_valid_uuid(value: str) -> bool:
    """scan_id and declaration_id: any RFC 4122 textual UUID."""
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
