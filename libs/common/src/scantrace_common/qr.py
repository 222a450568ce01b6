"""Signed QR payloads (SPEC section 4): `ST1.<venue_id>.<key_id>.<base64url Ed25519 signature>`."""

from __future__ import annotations

import base64
import re
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "ST1"
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PAYLOAD_RE = re.compile(r"ST1\.([A-Za-z0-9_.-]{1,64})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{86})")


class QrError(ValueError):
    """A QR payload that must be refused; the message is the reason given to the phone."""


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _split_key(entry: str) -> tuple[str, bytes]:
    key_id, sep, encoded = entry.strip().partition(":")
    if not sep or not _KEY_ID_RE.fullmatch(key_id):
        raise ValueError("a key is '<key_id>:<base64url 32 bytes>' with key_id of [A-Za-z0-9_-]")
    try:
        raw = b64url_decode(encoded)
    except ValueError as exc:
        raise ValueError(f"key {key_id!r} is not base64url") from exc
    if len(raw) != 32:
        raise ValueError(f"key {key_id!r} must be 32 bytes, got {len(raw)}")
    return key_id, raw


def _message(venue_id: str, key_id: str) -> bytes:
    return f"{PREFIX}.{venue_id}.{key_id}".encode("ascii")


@dataclass(frozen=True)
class QrSigner:
    """Held only by the reporter: it mints QR codes."""

    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_env_value(cls, value: str) -> QrSigner:
        key_id, seed = _split_key(value)
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls, key_id: str) -> QrSigner:
        return cls(key_id, Ed25519PrivateKey.generate())

    def public_env_value(self) -> str:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.key_id}:{b64url_encode(raw)}"

    def sign(self, venue_id: str) -> str:
        signature = self.private_key.sign(_message(venue_id, self.key_id))
        return f"{PREFIX}.{venue_id}.{self.key_id}.{b64url_encode(signature)}"


class QrVerifier:
    """Held by the gateway: checks payloads against several public keys, caching verified ones."""

    def __init__(self, keys: dict[str, Ed25519PublicKey], cache_size: int = 200_000) -> None:
        self._keys = keys
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_env_value(cls, value: str, cache_size: int = 200_000) -> QrVerifier:
        keys: dict[str, Ed25519PublicKey] = {}
        for entry in value.split(","):
            if entry.strip():
                key_id, raw = _split_key(entry)
                keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)
        if not keys:
            raise ValueError(
                "no QR verify keys: set SCANTRACE_QR_VERIFY_KEYS=<key_id>:<public key>"
            )
        return cls(keys, cache_size)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, payload: str) -> str:
        """The venue_id of a valid payload; raises `QrError` with the reason otherwise."""
        venue_id = self._cache.get(payload)
        if venue_id is not None:
            return venue_id
        match = _PAYLOAD_RE.fullmatch(payload) if len(payload) < 200 else None
        if match is None:
            raise QrError("malformed QR payload")
        venue_id, key_id, signature = match.groups()
        key = self._keys.get(key_id)
        if key is None:
            raise QrError(f"unknown QR key id {key_id!r}")
        try:
            key.verify(b64url_decode(signature), _message(venue_id, key_id))
        except (InvalidSignature, ValueError) as exc:
            raise QrError("QR signature does not verify") from exc
        self._cache[payload] = venue_id
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return venue_id
