"""Redis CPU per id of duplicate-check layouts (`uv run python -m bench.gateway.redis_layouts`).

Starts its own `redis-server` and sends look + mark of 16,000 ids per batch, packed by hand as
the gateway does: one key per id (`MGET`, then `SET key 1 EX ttl` in a script, the former
layout) against members of sets split into shards, with a given number of buckets read per
look (`SMISMEMBER`; the older buckets are filled first so the lookups hit big sets). Prints
the CPU seconds Redis itself used per id; the client's CPU is not counted. Writes nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from redis import Redis

BATCH = 16_000
ROUNDS = 40
PREFILL = 200_000
#: The former layout's marking script, as it was in `dedup.py`.
MARK_SCRIPT = "for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end return #KEYS"


def command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


class Server:
    def __init__(self, state: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        argv = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, cwd=state, stdout=subprocess.DEVNULL)
        self.client = Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock = socket.create_connection(("127.0.0.1", self.port))

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def send(self, commands: list[bytes]) -> None:
        """Send the commands and a PING; wait for the PONG (the replies are not parsed)."""
        self.sock.sendall(b"".join(commands) + command(b"PING"))
        received = b""
        while not received.endswith(b"+PONG\r\n"):
            received = received[-16:] + self.sock.recv(1 << 20)

    def stop(self) -> None:
        self.sock.close()
        self.client.close()
        self.process.terminate()
        self.process.wait(10)


def keys_per_id(server: Server) -> float:
    sha = str(server.client.script_load(MARK_SCRIPT)).encode()
    started = server.cpu_s()
    for _ in range(ROUNDS):
        keys = [f"ns.gateway:scan:{uuid.uuid4()}".encode() for _ in range(BATCH)]
        server.send([command(b"MGET", *keys)])
        server.send([command(b"EVALSHA", sha, b"%d" % len(keys), *keys, b"86400")])
    return (server.cpu_s() - started) / (ROUNDS * BATCH)


def sets(server: Server, shards: int, buckets: int) -> float:
    def key(shard: int, bucket: int) -> bytes:
        return b"ns.gateway:scan:seen:%d:%d" % (bucket, shard)

    def by_shard(ids: list[str]) -> dict[int, list[bytes]]:
        groups: dict[int, list[bytes]] = {}
        for id_ in ids:
            groups.setdefault(int(id_[:2], 16) % shards, []).append(id_.encode())
        return groups

    for bucket in range(1, buckets):  # older buckets, full
        for _ in range(PREFILL // 20_000):
            groups = by_shard([str(uuid.uuid4()) for _ in range(20_000)])
            server.send([command(b"SADD", key(s, bucket), *m) for s, m in groups.items()])
    started = server.cpu_s()
    for _ in range(ROUNDS):
        groups = by_shard([str(uuid.uuid4()) for _ in range(BATCH)])
        looks = [
            command(b"SMISMEMBER", key(s, bucket), *members)
            for s, members in groups.items()
            for bucket in range(buckets)
        ]
        server.send(looks)
        marks = [command(b"SADD", key(s, 0), *members) for s, members in groups.items()]
        marks += [command(b"EXPIREAT", key(s, 0), b"%d" % (time.time() + 90_000)) for s in groups]
        server.send(marks)
    return (server.cpu_s() - started) / (ROUNDS * BATCH)


def main() -> int:
    if shutil.which("redis-server") is None:
        print("redis-server is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="scantrace-redis-layouts-") as tmp:
        server = Server(Path(tmp))
        try:
            print(
                f"key per id (MGET + SET EX): {keys_per_id(server) * 1e6:.2f} µs of Redis CPU per id"
            )
            for shards, buckets in ((16, 1), (16, 2), (16, 4), (16, 13), (16, 25), (64, 4)):
                server.client.flushall()
                cost = sets(server, shards, buckets)
                print(f"sets, {shards} shards, {buckets} buckets read: {cost * 1e6:.2f} µs per id")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
