"""QR payloads: sign, verify, rotation, and every way a payload can be bad."""

from __future__ import annotations

import pytest

from scantrace_common.qr import QrError, QrSigner, QrVerifier, b64url_decode, b64url_encode

pytestmark = pytest.mark.unit


@pytest.fixture
def signer() -> QrSigner:
    return QrSigner.from_env_value("k1:" + b64url_encode(bytes(range(32))))


def test_payload_format_and_verification(signer: QrSigner) -> None:
    payload = signer.sign("dn-bh-cafe-0042")
    prefix, venue, key_id, signature = payload.split(".", 3)
    assert (prefix, venue, key_id) == ("ST1", "dn-bh-cafe-0042", "k1")
    assert len(b64url_decode(signature)) == 64
    assert "=" not in signature
    verifier = QrVerifier.from_env_value(signer.public_env_value())
    assert verifier.verify(payload) == "dn-bh-cafe-0042"
    assert verifier.verify(payload) == "dn-bh-cafe-0042"  # from the cache


def test_signing_is_deterministic_for_a_seed(signer: QrSigner) -> None:
    assert signer.sign("v1") == signer.sign("v1")


def test_rotation_accepts_every_configured_key(signer: QrSigner) -> None:
    new = QrSigner.generate("k2")
    verifier = QrVerifier.from_env_value(f"{signer.public_env_value()},{new.public_env_value()}")
    assert verifier.key_ids == ["k1", "k2"]
    assert verifier.verify(signer.sign("a")) == "a"
    assert verifier.verify(new.sign("b")) == "b"


def test_bad_payloads_are_refused(signer: QrSigner) -> None:
    verifier = QrVerifier.from_env_value(signer.public_env_value())
    good = signer.sign("venue-1")
    other = QrSigner.generate("k1")
    forged_venue = good.replace("venue-1", "venue-2")
    cases = {
        "truncated": good[:-5],
        "empty": "",
        "other prefix": "ST2" + good[3:],
        "venue changed": forged_venue,
        "re-signed by another key with the same id": other.sign("venue-1"),
        "unknown key id": good.replace(".k1.", ".k9."),
        "huge": good + "A" * 500,
    }
    for name, payload in cases.items():
        with pytest.raises(QrError):
            verifier.verify(payload)
        assert name


@pytest.mark.parametrize("value", ["", "nokey", "k1:short", "bad id:" + "A" * 43])
def test_malformed_key_settings_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="key"):
        QrVerifier.from_env_value(value)
