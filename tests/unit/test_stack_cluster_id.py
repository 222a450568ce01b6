"""The local broker's cluster id is one a command line cannot mistake for an option."""

from __future__ import annotations

import base64

import pytest

from scantrace_cli.stack import kafka

pytestmark = pytest.mark.unit


def test_a_fresh_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xfb... encodes to "-" first in base64url: the first draw is refused, the second kept
    draws = iter([b"\xfb" + bytes(15), bytes(16)])
    monkeypatch.setattr("os.urandom", lambda n: next(draws))
    cluster_id = kafka._new_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(bytes(16)).rstrip(b"=").decode()
    assert len(cluster_id) == 22
