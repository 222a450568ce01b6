"""Loopback ports: free ones for tests, and a clear answer when a wanted one is taken."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """An ephemeral port that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def pick_port(port: int) -> int:
    """`port` itself, or a free one when `port` is 0."""
    return free_port() if port == 0 else port
