"""SCANTRACE_LOCAL_KAFKA_BROKERS: the launcher's bootstrap list and the nodes' configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from scantrace_cli.stack.kafka import LocalKafkaCluster, cluster_tuning
from scantrace_cli.stack.launcher import Stack
from scantrace_cli.stack.process import ServerError


def test_bootstrap_lists_every_broker_from_the_port_upwards(tmp_path: Path) -> None:
    env = {
        "SCANTRACE_STATE_DIR": str(tmp_path),
        "SCANTRACE_LOCAL_KAFKA_PORT": "19092",
        "SCANTRACE_LOCAL_KAFKA_BROKERS": "3",
    }
    stack = Stack(["kafka"], env=env)
    assert stack.bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"


@pytest.mark.parametrize("value", ["0", "x", "-1", "10"])
def test_a_wrong_broker_count_is_refused_with_what_to_give(tmp_path: Path, value: str) -> None:
    env = {"SCANTRACE_STATE_DIR": str(tmp_path), "SCANTRACE_LOCAL_KAFKA_BROKERS": value}
    with pytest.raises(ServerError, match="1 to 9"):
        Stack(["kafka"], env=env)


def test_three_replicas_two_in_sync_and_one_quorum_for_every_node(tmp_path: Path) -> None:
    assert cluster_tuning(3)["default.replication.factor"] == "3"
    assert cluster_tuning(3)["min.insync.replicas"] == "2"
    assert cluster_tuning(2)["min.insync.replicas"] == "1"
    cluster = LocalKafkaCluster(tmp_path, 19092, 3)
    assert [node.port for node in cluster.nodes] == [19092, 19093, 19094]
    assert len({node.home for node in cluster.nodes}) == 3
    voters = cluster.quorum.voters
    assert voters.count("@127.0.0.1:") == 3
    # a second launcher on the same state folder finds the same quorum
    assert LocalKafkaCluster(tmp_path, 19092, 3).quorum.voters == voters
