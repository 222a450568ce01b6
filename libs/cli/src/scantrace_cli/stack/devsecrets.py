"""Development keys and secrets: generated once into `<state>/dev-secrets.json` (mode 0600).

The file maps variable names to values, so the services get them as environment variables
unless the environment already sets them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEV_SECRETS_FILE = "dev-secrets.json"
AUTH_SECRET_VAR = "SCANTRACE_AUTH_SECRET"  # noqa: S105 - a variable name
QR_SIGNING_KEY_VAR = "SCANTRACE_QR_SIGNING_KEY"
QR_VERIFY_KEYS_VAR = "SCANTRACE_QR_VERIFY_KEYS"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_dev_secrets() -> dict[str, str]:
    """A fresh auth secret and Ed25519 QR key pair, in the SPEC's `<key_id>:<base64url>` forms."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_id = "dev" + secrets.token_hex(3)
    return {
        AUTH_SECRET_VAR: _b64url(secrets.token_bytes(32)),
        QR_SIGNING_KEY_VAR: f"{key_id}:{_b64url(seed)}",
        QR_VERIFY_KEYS_VAR: f"{key_id}:{_b64url(public)}",
    }


def load_or_create(state_dir: Path) -> dict[str, str]:
    """The development secrets of this state folder, created (0600, atomically) on first use."""
    path = state_dir / DEV_SECRETS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data, dict) and all(
            isinstance(data.get(k), str)
            for k in (AUTH_SECRET_VAR, QR_SIGNING_KEY_VAR, QR_VERIFY_KEYS_VAR)
        ):
            return {str(k): str(v) for k, v in data.items()}
    state_dir.mkdir(parents=True, exist_ok=True)
    values = generate_dev_secrets()
    tmp = path.with_name(f".{DEV_SECRETS_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
        out.write("\n")
    os.replace(tmp, path)
    return values


def service_secret_env(state_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The secrets that `env` does not set yet, taken from the state folder's development file.

    When the environment sets a signing key but no verify keys (or the reverse), the
    development pair is not mixed in: a half-set pair is the operator's choice to finish.
    """
    values = load_or_create(state_dir)
    missing = {name: value for name, value in values.items() if not env.get(name)}
    if (QR_SIGNING_KEY_VAR in missing) != (QR_VERIFY_KEYS_VAR in missing):
        missing.pop(QR_SIGNING_KEY_VAR, None)
        missing.pop(QR_VERIFY_KEYS_VAR, None)
    return missing
