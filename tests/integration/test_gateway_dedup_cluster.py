"""The duplicate check on a real Redis Cluster: every command has one key, none built in Lua.

A one-node cluster (all 16384 slots on one `redis-server --cluster-enabled yes`) enforces the
same rules as a big one: a command whose keys span slots fails with CROSSSLOT, and the cluster
client must be able to route each key.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import RedisCluster
from redis.exceptions import RedisError

from scantrace_gateway.dedup import RedisDeduper

pytestmark = pytest.mark.integration


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid as well."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + 10000 <= 65535 and port_is_free(port + 10000):
            return port


def cluster_node(binary: str, state_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server in cluster mode owning every slot; returns it and its port."""
    port = free_node_port()
    args = ["--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes"]
    args += ["--cluster-config-file", str(state_dir / "nodes.conf"), "--dir", str(state_dir)]
    args += ["--save", "", "--appendonly", "no"]
    process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)
    node = SyncRedis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 30  # a safety bound on start-up, not a measurement
    while True:
        try:
            node.ping()
            break
        except (RedisError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()
                raise
            time.sleep(0.05)
    node.cluster("ADDSLOTSRANGE", 0, 16383)
    while node.cluster("INFO").get("cluster_state") != "ok":
        assert time.monotonic() < deadline, "the cluster node did not become ready"
        time.sleep(0.05)
    node.close()
    return process, port


@pytest.fixture
def cluster_port(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        pytest.skip("no redis-server binary to start a cluster node with")
    process, port = cluster_node(binary, tmp_path)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def cluster(cluster_port: int) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster_port)
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()


def test_the_node_refuses_one_command_over_many_slots(cluster_port: int) -> None:
    """The rule the deduper must follow: a plain connection sending keys of several slots in
    one command is refused by the server itself."""
    node = SyncRedis(host="127.0.0.1", port=cluster_port)
    try:
        keys = [f"ns.gateway:scan:{uuid.uuid4()}" for _ in range(20)]
        with pytest.raises(RedisError, match="same slot"):
            node.mget(keys)
    finally:
        node.close()


async def test_redis_deduper_works_on_a_cluster(cluster: RedisCluster) -> None:
    prefix = "ns.gateway:scan:"
    deduper = RedisDeduper(cluster, prefix=prefix, ttl_s=600, timeout_s=10.0)
    try:
        ids = [str(uuid.uuid4()) for _ in range(200)]
        assert await deduper.seen(ids) == [False] * 200
        await deduper.mark(ids[:150] + ids[:10])  # repeats within one batch are fine
        assert await deduper.seen(ids) == [True] * 150 + [False] * 50
        since = int(time.time() * 1000) - 300_000  # the narrowed look of a fresh scan
        assert await deduper.seen(ids, since) == [True] * 150 + [False] * 50
        keys = [key async for key in cluster.scan_iter(prefix + "*")]
        assert len(keys) > 1  # the shards of one bucket, each its own key (and slot)
        for key in keys:
            assert 0 < await cluster.ttl(key) <= 2 * 600
    finally:
        await deduper.close()
