"""Readiness probes spoken on raw sockets, so they work with or without a running event loop."""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request

from scantrace_cli.stack.ports import HOST

_METADATA_API_KEY = 3
#: Metadata v4: the oldest version Kafka 4.x still serves and the newest non-flexible one.
_METADATA_VERSION = 4
_CLIENT_ID = b"scantrace-probe"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return data


def kafka_brokers(bootstrap: str, timeout: float = 2.0) -> int:
    """Send one Metadata request to the first bootstrap address; returns the brokers it lists."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    header = struct.pack(">hhih", _METADATA_API_KEY, _METADATA_VERSION, 1, len(_CLIENT_ID))
    body = struct.pack(">ib", -1, 0)  # all topics (null array), no auto-creation
    request = header + _CLIENT_ID + body
    with socket.create_connection((host or HOST, int(port)), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    # correlation id, throttle_time_ms, then the broker array's length.
    _correlation, _throttle, brokers = struct.unpack_from(">iii", response)
    return int(brokers)


def kafka_ready(bootstrap: str) -> bool:
    """True when the broker answers a metadata request and lists itself."""
    try:
        return kafka_brokers(bootstrap) > 0
    except (OSError, struct.error):
        return False


def redis_ready(port: int, host: str = HOST) -> bool:
    """True when the server answers PING with PONG (not LOADING or an error)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_ready(url: str) -> bool:
    """True when `url` answers 200 (the services' GET /readyz)."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - loopback http only
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
