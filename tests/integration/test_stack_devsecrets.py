"""Development secrets: made once, private, in the SPEC's formats, never over a set variable.

Pure file work with no server, so it carries the `unit` marker although it sits with the
other local-stack tests.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scantrace_cli.stack.devsecrets import (
    AUTH_SECRET_VAR,
    DEV_SECRETS_FILE,
    QR_SIGNING_KEY_VAR,
    QR_VERIFY_KEYS_VAR,
    load_or_create,
    service_secret_env,
)

pytestmark = pytest.mark.unit


def _b64url_decode(text: str) -> bytes:
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    mode = stat.S_IMODE((tmp_path / DEV_SECRETS_FILE).stat().st_mode)
    assert mode == 0o600
    assert load_or_create(tmp_path) == first


def test_formats_and_the_key_pair_match(tmp_path: Path) -> None:
    values = load_or_create(tmp_path)
    assert len(_b64url_decode(values[AUTH_SECRET_VAR])) == 32
    sign_id, seed = values[QR_SIGNING_KEY_VAR].split(":")
    verify_id, public = values[QR_VERIFY_KEYS_VAR].split(":")
    assert sign_id == verify_id
    key = Ed25519PrivateKey.from_private_bytes(_b64url_decode(seed))
    assert key.public_key().public_bytes_raw() == _b64url_decode(public)


def test_set_variables_win_and_a_half_set_pair_is_left_alone(tmp_path: Path) -> None:
    env = {AUTH_SECRET_VAR: "from-env", QR_SIGNING_KEY_VAR: "k1:seed"}
    assert service_secret_env(tmp_path, env) == {}
    both_unset = service_secret_env(tmp_path, {})
    assert set(both_unset) == {AUTH_SECRET_VAR, QR_SIGNING_KEY_VAR, QR_VERIFY_KEYS_VAR}
