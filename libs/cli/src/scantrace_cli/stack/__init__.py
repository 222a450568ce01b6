"""The local stack: Kafka (or Tansu), Redis and the services, as child processes on 127.0.0.1.

`scantrace up` drives it from the command line; the test fixtures use the same classes
(`LocalKafka`, `LocalTansu`, `LocalRedis`) to start servers on free ports in a temp state folder.
"""

from __future__ import annotations

from scantrace_cli.stack.broker import BrokerKind, choose_broker_kind, make_local_broker
from scantrace_cli.stack.kafka import KAFKA_VERSION, LocalKafka
from scantrace_cli.stack.process import ServerError
from scantrace_cli.stack.redis import LocalRedis
from scantrace_cli.stack.tansu import LocalTansu

__all__ = [
    "KAFKA_VERSION",
    "BrokerKind",
    "LocalKafka",
    "LocalRedis",
    "LocalTansu",
    "ServerError",
    "choose_broker_kind",
    "make_local_broker",
]
