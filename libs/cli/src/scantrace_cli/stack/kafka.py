"""Apache Kafka in KRaft single-node mode (broker and controller in one JVM), data on disk."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from scantrace_cli.stack.kafka_dist import KAFKA_VERSION, ensure_kafka_lib, kafka_version
from scantrace_cli.stack.ports import HOST, free_port, port_in_use
from scantrace_cli.stack.probes import kafka_ready
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.server import LocalServer

__all__ = ["KAFKA_VERSION", "LocalKafka"]

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
    ) -> None:
        self.home = state_dir.absolute() / "kafka"
        super().__init__(
            port=port,
            log_path=log_path or state_dir.absolute() / "logs" / "kafka.log",
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
        """The KRaft controller listener's port: the one used last time when it is still free."""
        saved = self.home / "controller.port"
        if saved.exists():
            port = int(saved.read_text().strip())
            if not port_in_use(port) and port != self.port:
                return port
        port = free_port()
        saved.write_text(f"{port}\n")
        return port

    def _write_config(self) -> Path:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            **_TUNING,
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
        id_file = self.home / "cluster-id"
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
        dump = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
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
