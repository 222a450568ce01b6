"""Apache Kafka in KRaft mode, data on disk: one node (broker and controller in one JVM), or a
cluster of such nodes on consecutive ports (`LocalKafkaCluster`, SCANTRACE_LOCAL_KAFKA_BROKERS)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scantrace_cli.stack.kafka_dist import KAFKA_VERSION, ensure_kafka_lib, kafka_version
from scantrace_cli.stack.ports import HOST, free_port, port_in_use
from scantrace_cli.stack.probes import kafka_ready
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.server import LocalServer

__all__ = ["KAFKA_VERSION", "LocalKafka", "LocalKafkaCluster", "Quorum"]

#: Tuned for a 2-core machine shared with the services. Topics are created by
#: `ensure_topics` with their registry partitions and configs, so auto-creation is off: a
#: misspelt or un-namespaced topic fails loudly instead of appearing with 1 partition.
_TUNING = {
    "auto.create.topics.enable": "false",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    # 50 partitions by default: each costs start-up and first-group time on a small box.
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    # After a crash the restarted broker waits for its old registration to expire (9 s by
    # default) before it serves; a shorter session makes a SIGKILL + restart take seconds.
    "broker.session.timeout.ms": "4000",
    "broker.heartbeat.interval.ms": "1000",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "num.replica.fetchers": "1",
    "log.cleaner.threads": "1",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    "log.segment.bytes": str(256 * 1024 * 1024),
    "log.retention.check.interval.ms": "300000",
}


def cluster_tuning(brokers: int) -> dict[str, str]:
    """Replicas of a cluster: 3 copies (fewer brokers: one each), a write acknowledged by all
    but one of them (`acks=all` then survives one broker down), never an unclean leader."""
    replicas = min(3, brokers)
    in_sync = max(1, replicas - 1)
    return {
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(in_sync),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(in_sync),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(in_sync),
        "unclean.leader.election.enable": "false",
    }


@dataclass(frozen=True, slots=True)
class Quorum:
    """What every node of a cluster must know before any starts: the controllers (node id ->
    controller port), the broker count and the cluster's folder (its id is kept there)."""

    controllers: dict[int, int]
    home: Path

    @property
    def voters(self) -> str:
        return ",".join(f"{node}@{HOST}:{port}" for node, port in sorted(self.controllers.items()))

    @property
    def brokers(self) -> int:
        return len(self.controllers)


_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""

_DEFAULT_JVM = "-Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError"


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (what kafka-storage makes).

    Like Kafka's own `Uuid.randomUuid`, never one that starts with "-": command lines read it
    as an option (one fresh state folder in 64 failed to format).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka(LocalServer):
    """Apache Kafka on 127.0.0.1:`port`, its data in `<state_dir>/kafka/` (kept across restarts)."""

    name = "kafka"
    port_variable = "SCANTRACE_LOCAL_KAFKA_PORT"

    def __init__(
        self,
        state_dir: Path,
        port: int = 9092,
        *,
        log_path: Path | None = None,
        progress: Progress | None = None,
        start_timeout: float = 180.0,
        version: str | None = None,
        env: Mapping[str, str] | None = None,
        node_id: int = 1,
        quorum: Quorum | None = None,
    ) -> None:
        self.node_id = node_id
        self.quorum = quorum
        if quorum is None:
            self.home = state_dir.absolute() / "kafka"
            log_name = "kafka.log"
        else:
            self.name = f"kafka-{node_id}"
            self.home = quorum.home / f"node-{node_id}"
            log_name = f"kafka-{node_id}.log"
        super().__init__(
            port=port,
            log_path=log_path or state_dir.absolute() / "logs" / log_name,
            progress=progress,
            start_timeout=start_timeout,
        )
        self.version = version or kafka_version(env)
        settings = os.environ if env is None else env
        self.jvm_options = settings.get("SCANTRACE_KAFKA_JVM_OPTS") or _DEFAULT_JVM
        self.class_sharing = settings.get("SCANTRACE_KAFKA_CDS", "on") != "off"
        #: (temp file the JVM dumps its class archive to at exit, final name) on a first run.
        self._archive_dump: tuple[Path, Path] | None = None
        self.data_dir = self.home / "data"
        self.controller_port = 0
        self._lib: Path | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def ready(self) -> bool:
        return kafka_ready(self.address)

    def _classpath(self) -> str:
        assert self._lib is not None
        return f"{self._lib}/*"

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise ServerError("Java 17+ is needed for Apache Kafka: apt-get install openjdk-17-jre")
        return java

    def _pick_controller_port(self) -> int:
        """The KRaft controller listener's port: the quorum's, else the one used last time when
        it is still free."""
        if self.quorum is not None:
            return self.quorum.controllers[self.node_id]
        saved = self.home / "controller.port"
        if saved.exists():
            port = int(saved.read_text().strip())
            if not port_in_use(port) and port != self.port:
                return port
        port = free_port()
        saved.write_text(f"{port}\n")
        return port

    def _write_config(self) -> Path:
        voters = f"1@{HOST}:{self.controller_port}"
        tuning = dict(_TUNING)
        if self.quorum is not None:
            voters = self.quorum.voters
            tuning.update(cluster_tuning(self.quorum.brokers))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            **tuning,
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        return path

    def _jvm(self) -> list[str]:
        return [
            self._java(),
            *self.jvm_options.split(),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            self._classpath(),
        ]

    def _format_storage(self, config: Path) -> None:
        """First start only: format the log folder with the cluster id kept in the state folder."""
        if (self.data_dir / "meta.properties").exists():
            return
        id_file = (self.home if self.quorum is None else self.quorum.home) / "cluster-id"
        if not id_file.exists():
            id_file.write_text(_new_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"=== formatting {self.data_dir} (cluster {cluster_id})\n".encode())
            log.flush()
            result = subprocess.run(
                [
                    *self._jvm(),
                    "kafka.tools.StorageTool",
                    "format",
                    # one argument: an id kept from before the fix may still start with "-"
                    f"--cluster-id={cluster_id}",
                    "--config",
                    str(config),
                    "--ignore-formatted",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise ServerError(f"kafka storage format failed; see {self.log_path}")

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._lib = ensure_kafka_lib(self.version, announce=self.progress is not None)
        self.controller_port = self._pick_controller_port()
        config = self._write_config()
        self._format_storage(config)

    def _class_archive(self) -> Path:
        """The class-data-sharing archive of this jar set and this JVM (in the jars' cache)."""
        assert self._lib is not None
        java = Path(self._java()).resolve()
        tag = hashlib.sha256(str(java).encode()).hexdigest()[:12]
        return self._lib.parent / f"classes-{tag}.jsa"

    def _class_sharing_options(self) -> list[str]:
        """Class data sharing roughly halves the JVM's start: the first clean stop writes the
        archive of the classes the broker loaded, and later starts map it. A JVM that cannot
        use it (another build) says so in the log and starts without it."""
        self._archive_dump = None
        if not self.class_sharing:
            return []
        archive = self._class_archive()
        if archive.exists():
            return [f"-XX:SharedArchiveFile={archive}"]
        dump = archive.with_name(f"{archive.name}.{os.getpid()}.{self.node_id}.tmp")
        self._archive_dump = (dump, archive)
        return [f"-XX:ArchiveClassesAtExit={dump}"]

    def _argv(self) -> list[str]:
        return [
            *self._jvm(),
            *self._class_sharing_options(),
            "kafka.Kafka",
            str(self.home / "server.properties"),
        ]

    def stop(self, timeout: float = 30.0) -> None:
        super().stop(timeout)
        pending, self._archive_dump = self._archive_dump, None
        if pending is not None and pending[0].exists():
            dump, archive = pending
            if dump.stat().st_size > 0:
                os.replace(dump, archive)
            else:
                dump.unlink()

    def kill(self) -> None:
        super().kill()
        pending, self._archive_dump = self._archive_dump, None
        if pending is not None:
            pending[0].unlink(missing_ok=True)  # a killed JVM writes no archive, or half of one


class LocalKafkaCluster:
    """`brokers` Apache Kafka nodes, each broker and controller, on ports `port`, `port` + 1, ...
    (0: free ports), their data in `<state_dir>/kafka-cluster/node-N/` (kept across restarts).

    A KRaft quorum answers only once a majority of its controllers runs, so every node is
    spawned first and then waited for.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int = 9092,
        brokers: int = 3,
        *,
        progress: Progress | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if brokers < 2:
            raise ServerError("a cluster has at least 2 brokers; 1 is LocalKafka")
        home = state_dir.absolute() / "kafka-cluster"
        home.mkdir(parents=True, exist_ok=True)
        self.quorum = Quorum(_controller_ports(home, brokers), home)
        ports = [free_port() if port == 0 else port + i for i in range(brokers)]
        self.nodes = [
            LocalKafka(
                state_dir,
                node_port,
                progress=progress,
                env=env,
                node_id=i + 1,
                quorum=self.quorum,
                start_timeout=240.0,
            )
            for i, node_port in enumerate(ports)
        ]

    @property
    def address(self) -> str:
        return ",".join(node.address for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        return int(cluster_tuning(len(self.nodes))["default.replication.factor"])

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    def start(self) -> None:
        for node in self.nodes:
            if not node.alive:
                node.spawn()
        for node in self.nodes:
            node.wait_ready()

    def stop(self, timeout: float = 30.0) -> None:
        """All nodes at once: the last one stopped alone would wait for a quorum that is gone."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))


def _controller_ports(home: Path, brokers: int) -> dict[int, int]:
    """The controllers' ports, kept in `home` so a restarted cluster finds its quorum again."""
    saved = home / "controllers.json"
    if saved.exists():
        ports = {int(k): int(v) for k, v in json.loads(saved.read_text()).items()}
        if len(ports) == brokers:
            return ports
    ports = {node: free_port() for node in range(1, brokers + 1)}
    saved.write_text(json.dumps(ports) + "\n")
    return ports
