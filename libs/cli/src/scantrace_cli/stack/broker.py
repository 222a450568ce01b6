"""Which broker the local stack uses: an external cluster, Apache Kafka, or the embedded Tansu."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from scantrace_cli.stack.kafka import LocalKafka
from scantrace_cli.stack.kafka_dist import missing_prerequisites
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.tansu import LocalTansu

BrokerKind = Literal["external", "kafka", "tansu"]
LocalBrokerKind = Literal["kafka", "tansu"]


def choose_local_broker(preference: str | None = None) -> LocalBrokerKind:
    """`preference` ("kafka" or "tansu") when given, else Kafka where Java 17+ and Maven exist."""
    if preference == "tansu":
        return "tansu"
    if preference == "kafka":
        reason = missing_prerequisites()
        if reason is not None:
            raise ServerError(f"Apache Kafka was asked for but {reason}; unset it to use Tansu")
        return "kafka"
    if preference:
        raise ServerError(f"unknown broker {preference!r}: use kafka or tansu")
    return "kafka" if missing_prerequisites() is None else "tansu"


def choose_broker_kind(env: Mapping[str, str] | None = None) -> BrokerKind:
    """SPEC order: `SCANTRACE_KAFKA_BOOTSTRAP` set means no local broker; else Kafka, else Tansu.

    `SCANTRACE_LOCAL_BROKER=kafka|tansu` forces the local one.
    """
    env = os.environ if env is None else env
    if env.get("SCANTRACE_KAFKA_BOOTSTRAP"):
        return "external"
    return choose_local_broker(env.get("SCANTRACE_LOCAL_BROKER") or None)


def make_local_broker(
    kind: LocalBrokerKind,
    state_dir: Path,
    port: int,
    *,
    progress: Progress | None = None,
) -> LocalKafka | LocalTansu:
    if kind == "kafka":
        return LocalKafka(state_dir, port, progress=progress)
    return LocalTansu(state_dir, port, progress=progress)


def broker_client_env(kind: BrokerKind) -> dict[str, str]:
    """Variables that tell clients what the broker cannot do (Tansu: no idempotent producer)."""
    if kind == "tansu":
        return {"SCANTRACE_BROKER_KIND": "tansu", "SCANTRACE_KAFKA_IDEMPOTENCE": "false"}
    return {"SCANTRACE_BROKER_KIND": kind}
