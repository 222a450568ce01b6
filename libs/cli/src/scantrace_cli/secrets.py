"""Where the CLI finds secrets: the environment first, else the local stack's development secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

DEV_SECRETS_FILE = "dev-secrets.json"


def state_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("SCANTRACE_STATE_DIR", ".scantrace"))


def resolve_auth_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("SCANTRACE_AUTH_SECRET")
    if secret:
        return secret
    path = state_dir(env) / DEV_SECRETS_FILE
    if not path.exists():
        return None
    value = json.loads(path.read_text()).get("SCANTRACE_AUTH_SECRET")
    return value if isinstance(value, str) else None
