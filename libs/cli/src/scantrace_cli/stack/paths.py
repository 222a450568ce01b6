"""Where the local stack keeps things: state (per working copy) and caches (per user)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$SCANTRACE_STATE_DIR`, else `.scantrace/` in the working directory (SPEC section 1)."""
    env = os.environ if env is None else env
    return Path(env.get("SCANTRACE_STATE_DIR") or ".scantrace").absolute()


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The per-user cache that outlives state folders: `$XDG_CACHE_HOME/scantrace` or ~/.cache."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scantrace"


def logs_dir(state: Path) -> Path:
    return state / "logs"
