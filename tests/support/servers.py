"""Kafka and Redis for tests, found in this order: the environment, testcontainers, local launcher.

1. `SCANTRACE_TEST_KAFKA_BOOTSTRAP` / `SCANTRACE_TEST_REDIS_URL`: servers someone already runs.
2. testcontainers, where a Docker engine answers `docker info`.
3. The local launcher (`scantrace_cli.stack`) on free ports in a temp state folder; the broker is
   Apache Kafka or Tansu as `SCANTRACE_TEST_BROKER=kafka|tansu` says (default: Kafka where Java
   17+ and Maven exist). The Kafka jars cache in ~/.cache/scantrace is shared across runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from scantrace_cli.stack import LocalKafka, LocalRedis, LocalTansu
from scantrace_cli.stack.broker import choose_local_broker

BrokerSource = Literal["external", "container", "kafka", "tansu"]


@functools.cache
def docker_answers() -> bool:
    """True when a Docker engine answers (`docker info` succeeds)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def session_broker_kind() -> BrokerSource:
    """Which broker the session's `kafka_bootstrap` comes from (no server is started here)."""
    if os.environ.get("SCANTRACE_TEST_KAFKA_BOOTSTRAP"):
        return "external"
    preference = os.environ.get("SCANTRACE_TEST_BROKER") or None
    if preference is None and docker_answers():
        return "container"
    return choose_local_broker(preference)


def local_broker(kind: Literal["kafka", "tansu"], state_dir: Path) -> LocalKafka | LocalTansu:
    """A broker of `kind` on a free port with its state in `state_dir` (not started)."""
    if kind == "kafka":
        return LocalKafka(state_dir, 0)
    return LocalTansu(state_dir, 0)


@contextlib.contextmanager
def kafka_for_tests(state_dir: Path) -> Iterator[tuple[str, BrokerSource]]:
    """Yields (bootstrap address, where it came from); stops whatever it started."""
    kind = session_broker_kind()
    if kind == "external":
        yield os.environ["SCANTRACE_TEST_KAFKA_BOOTSTRAP"], kind
        return
    if kind == "container":
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server(), kind
        return
    broker = local_broker(kind, state_dir)
    broker.start()
    try:
        yield broker.address, kind
    finally:
        broker.stop()


@contextlib.contextmanager
def redis_for_tests(state_dir: Path) -> Iterator[str]:
    """Yields a redis:// URL; stops whatever it started."""
    url = os.environ.get("SCANTRACE_TEST_REDIS_URL")
    if url:
        yield url
        return
    if docker_answers():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer("redis:7") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    # Tests rebuild what they need; no append-only file keeps a test run's disk use down.
    redis = LocalRedis(state_dir, 0, persist=False)
    redis.start()
    try:
        yield redis.address
    finally:
        redis.stop()
