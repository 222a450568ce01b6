"""`scantrace up`: start the named components in dependency order, watch them, stop them in reverse.

Children run in their own process groups, so a terminal's Ctrl-C reaches only this launcher,
which then stops them one by one, newest first (SIGTERM, a grace period, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TextIO

from scantrace_cli.stack.broker import (
    BrokerKind,
    broker_client_env,
    choose_broker_kind,
    make_local_broker,
)
from scantrace_cli.stack.devsecrets import service_secret_env
from scantrace_cli.stack.kafka import LocalKafkaCluster
from scantrace_cli.stack.paths import logs_dir, state_dir
from scantrace_cli.stack.ports import HOST, port_in_use
from scantrace_cli.stack.probes import kafka_ready, redis_ready
from scantrace_cli.stack.process import ServerError, wait_until
from scantrace_cli.stack.prometheus import LocalPrometheus, prometheus_binary
from scantrace_cli.stack.prometheus_graphs import ui_page
from scantrace_cli.stack.redis import LocalRedis
from scantrace_cli.stack.server import LocalServer
from scantrace_cli.stack.services import SERVICES, LocalService

COMPONENTS = ("kafka", "redis", *SERVICES, "prometheus")
_BROKER_KIND_FILE = "broker-kind"
_EXTERNAL_WAIT_S = 60.0


class _StopRequested(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


class ProgressLine:
    """'waiting for kafka ... 3.2 s', rewritten in place on a terminal, every 5 s otherwise."""

    def __init__(self, out: TextIO, name: str) -> None:
        self.out = out
        self.name = name
        self.tty = out.isatty()
        self._last = 0.0

    def __call__(self, elapsed: float) -> None:
        if self.tty:
            self.out.write(f"\rwaiting for {self.name} ... {elapsed:.1f} s")
            self.out.flush()
        elif elapsed - self._last >= 5.0:
            self._last = elapsed
            print(f"waiting for {self.name} ... {elapsed:.1f} s", file=self.out, flush=True)

    def done(self, seconds: float | None) -> None:
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        line = f"{self.name} ready{took}"
        print(f"\r{line:<60}" if self.tty else line, file=self.out, flush=True)


def _local_port(env: Mapping[str, str], variable: str, default: int) -> int:
    raw = env.get(variable) or str(default)
    try:
        return int(raw)
    except ValueError:
        raise ServerError(f"{variable}={raw!r} is not a port number") from None


def _local_brokers(env: Mapping[str, str]) -> int:
    """SCANTRACE_LOCAL_KAFKA_BROKERS: how many local Apache Kafka brokers (default 1)."""
    raw = env.get("SCANTRACE_LOCAL_KAFKA_BROKERS") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 9:
        raise ServerError(
            f"SCANTRACE_LOCAL_KAFKA_BROKERS={raw!r}: give a number of brokers, 1 to 9"
        )
    return int(raw)


class Stack:
    """One `scantrace up` run."""

    def __init__(
        self,
        components: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        out: TextIO = sys.stdout,
    ) -> None:
        unknown = [name for name in components if name not in COMPONENTS]
        if unknown:
            raise ServerError(
                f"unknown component(s) {', '.join(unknown)}: use {' '.join(COMPONENTS)}"
            )
        wanted = set(components) or set(COMPONENTS)
        self.env = dict(os.environ if env is None else env)
        self.out = out
        #: Prometheus is part of the default set only where Debian's binary is installed.
        self.skipped_prometheus = not components and prometheus_binary() is None
        #: Named on the command line: a problem starting it is an error, not a note.
        self.prometheus_named = "prometheus" in components
        if self.skipped_prometheus:
            wanted.discard("prometheus")
        self.components = [name for name in COMPONENTS if name in wanted]
        self.state = state_dir(self.env)
        self.logs = logs_dir(self.state)
        self.started: list[LocalServer] = []
        self._stopping = False
        self._force = False
        self.kafka_port = _local_port(self.env, "SCANTRACE_LOCAL_KAFKA_PORT", 9092)
        self.redis_port = _local_port(self.env, "SCANTRACE_LOCAL_REDIS_PORT", 6379)
        self.prometheus_port = _local_port(self.env, "SCANTRACE_LOCAL_PROMETHEUS_PORT", 9090)
        self.brokers = _local_brokers(self.env)
        self.bootstrap = self.env.get("SCANTRACE_KAFKA_BOOTSTRAP") or ",".join(
            f"{HOST}:{self.kafka_port + i}" for i in range(self.brokers)
        )
        self.cluster: LocalKafkaCluster | None = None
        self.redis_url = (
            self.env.get("SCANTRACE_REDIS_URL") or f"redis://{HOST}:{self.redis_port}/0"
        )
        self.broker_kind: BrokerKind = "kafka"

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    # -- signals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping:
            self._stopping = True
            raise _StopRequested(signal.Signals(signum).name)
        self._force = True  # a second Ctrl-C: stop waiting for graceful exits

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    # -- starting --------------------------------------------------------------------------

    def _start_server(self, server: LocalServer, label: str) -> None:
        progress = ProgressLine(self.out, label)
        server.progress = progress
        self.started.append(server)
        server.start()
        progress.done(server.last_start_seconds)

    def _start_broker(self) -> None:
        kind = choose_broker_kind(self.env)
        self.broker_kind = kind
        kind_file = self.state / _BROKER_KIND_FILE
        if kind == "external":
            self.say(f"kafka: using {self.bootstrap} (SCANTRACE_KAFKA_BOOTSTRAP); starting none")
            self._wait_external_broker()
            return
        if self.brokers > 1:
            if kind != "kafka":
                raise ServerError(
                    "SCANTRACE_LOCAL_KAFKA_BROKERS > 1 needs Apache Kafka (Java 17+ and Maven); "
                    "the embedded Tansu runs one broker"
                )
            self._start_cluster(LocalKafkaCluster(self.state, self.kafka_port, self.brokers))
        else:
            broker = make_local_broker(kind, self.state, self.kafka_port)
            label = "kafka (Apache Kafka, KRaft)" if kind == "kafka" else "kafka (embedded Tansu)"
            self._start_server(broker, label)
        kind_file.write_text(kind + "\n")  # tells a later `scantrace up gateway` what runs

    def _start_cluster(self, cluster: LocalKafkaCluster) -> None:
        """Every node spawned, then each waited for: the quorum needs a majority running."""
        self.cluster = cluster
        self.bootstrap = cluster.address
        lines = []
        for node in cluster.nodes:
            line = ProgressLine(self.out, f"{node.name} (Apache Kafka, KRaft, node {node.node_id})")
            node.progress = line
            lines.append(line)
            self.started.append(node)
            node.spawn()
        for node, line in zip(cluster.nodes, lines, strict=True):
            node.wait_ready()
            line.done(node.last_start_seconds)

    def _wait_external_broker(self) -> None:
        progress = ProgressLine(self.out, f"kafka at {self.bootstrap}")
        try:
            took = wait_until(
                lambda: kafka_ready(self.bootstrap),
                what=f"the broker at {self.bootstrap}",
                timeout=_EXTERNAL_WAIT_S,
                progress=progress,
                interval=0.5,
            )
        except ServerError:
            raise ServerError(
                f"no Kafka broker answers at {self.bootstrap}: start one with "
                "`scantrace up kafka` (another terminal) or set SCANTRACE_KAFKA_BOOTSTRAP"
            ) from None
        progress.done(took)

    def _start_redis(self) -> None:
        if self.env.get("SCANTRACE_REDIS_URL"):
            self.say(f"redis: using {self.redis_url} (SCANTRACE_REDIS_URL); starting none")
            return
        redis = LocalRedis(self.state, self.redis_port)
        self._start_server(redis, "redis")

    def _ensure_topics(self) -> None:
        from scantrace_common.settings import DEFAULT_RETENTION_DAYS
        from scantrace_common.topics import ensure_topics

        namespace = self.env.get("SCANTRACE_NAMESPACE", "")
        retention_days = int(self.env.get("SCANTRACE_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)
        try:
            replicas = self.cluster.replication_factor if self.cluster is not None else 1
            created = asyncio.run(
                ensure_topics(
                    self.bootstrap,
                    namespace,
                    replication_factor=replicas,
                    retention_days=retention_days,
                )
            )
        except Exception as exc:  # any client error: say which broker and what to check
            raise ServerError(
                f"could not create the topics on {self.bootstrap}: {exc!r}; "
                f"see {self.logs / 'kafka.log'} when the broker is local"
            ) from exc
        self.say(f"topics: {len(created)} created" if created else "topics: all present")

    def _service_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.update(service_secret_env(self.state, self.env))
        env.update(broker_client_env(self.broker_kind))
        env["SCANTRACE_KAFKA_BOOTSTRAP"] = self.bootstrap
        env["SCANTRACE_REDIS_URL"] = self.redis_url
        env["SCANTRACE_STATE_DIR"] = str(self.state)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The local stack is a development installation (its secrets are generated here);
        # a bare service defaults to production and refuses development shortcuts.
        env.setdefault("SCANTRACE_ENVIRONMENT", "development")
        return env

    def _console_port(self) -> str:
        for server in self.started:
            if isinstance(server, LocalService) and server.name == "console":
                return str(server.port)
        return "8003"

    def _known_broker_kind(self) -> BrokerKind:
        """When this run starts no broker: external if configured, else what `up kafka` wrote."""
        if self.env.get("SCANTRACE_KAFKA_BOOTSTRAP"):
            return "external"
        kind_file = self.state / _BROKER_KIND_FILE
        if kind_file.exists() and kind_file.read_text().strip() == "tansu":
            return "tansu"
        return "kafka"

    def start_all(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        services = [name for name in self.components if name in SERVICES]
        if "kafka" in self.components:
            self._start_broker()
        else:
            self.broker_kind = self._known_broker_kind()
        if "redis" in self.components:
            self._start_redis()
        if services:
            if "kafka" not in self.components:
                self._wait_external_broker()
            if "redis" not in self.components and not redis_ready_url(self.redis_url):
                raise ServerError(
                    f"no Redis answers at {self.redis_url}: start it with `scantrace up redis` "
                    "or set SCANTRACE_REDIS_URL"
                )
        if "kafka" in self.components or services:
            self._ensure_topics()
        env = self._service_env() if services else {}
        for name in services:
            self._start_server(LocalService(SERVICES[name], env, self.logs), name)
        if "prometheus" in self.components:
            self._start_prometheus()
        elif self.skipped_prometheus:
            self.say("prometheus: not installed (apt-get install prometheus); starting none")

    def _start_prometheus(self) -> None:
        """Scrapes every service on its port, whether this run started it or another did."""
        targets = {
            name: _local_port(self.env, spec.port_variable, spec.default_port)
            for name, spec in SERVICES.items()
        }
        if not self.prometheus_named and port_in_use(self.prometheus_port):
            # an optional extra of `make run` must not stop the stack from starting
            self.say(
                f"prometheus: port {self.prometheus_port} is taken; starting none "
                "(SCANTRACE_LOCAL_PROMETHEUS_PORT moves it)"
            )
            return
        prometheus = LocalPrometheus(self.state, targets, self.prometheus_port)
        self._start_server(prometheus, "prometheus")

    # -- running and stopping ----------------------------------------------------------------

    def summary(self) -> None:
        self.say("")
        self.say(f"state: {self.state}")
        if "kafka" in self.components or any(n in SERVICES for n in self.components):
            self.say(f"  {'kafka':10} {self.bootstrap}  ({self.broker_kind})")
        if "redis" in self.components or any(n in SERVICES for n in self.components):
            self.say(f"  {'redis':10} {self.redis_url}")
        for server in self.started:
            if isinstance(server, LocalService):
                self.say(f"  {server.name:10} {server.address}  (API docs: {server.address}/docs)")
            elif isinstance(server, LocalPrometheus):
                self.say(
                    f"  {server.name:10} {server.address}  (targets: "
                    f"{ui_page(server.address, 'targets')}, alerts: "
                    f"{ui_page(server.address, 'alerts')})"
                )
        for server in self.started:
            self.say(f"  log {server.name:10} {server.log_path}")
        if any(isinstance(s, LocalService) and s.name == "console" for s in self.started):
            self.say("console: create the first admin with `make staff` (another terminal),")
            self.say("         then sign in at http://127.0.0.1:" + self._console_port())
        self.say("all ready; Ctrl-C stops everything")

    def watch(self) -> int:
        """Block until a child dies (exit 1, with its log tail) or a signal arrives."""
        while True:
            for server in self.started:
                if not server.alive:
                    process = server.process
                    code = process.returncode if process else None
                    self.say(f"\n{server.name} exited unexpectedly (code {code}); last log lines:")
                    self.say(process.log_tail() if process else "")
                    return 1
            time.sleep(0.5)

    def stop_all(self) -> None:
        timeout = 3.0 if self._force else 20.0
        nodes = self.cluster.nodes if self.cluster is not None else []
        for server in reversed(self.started):
            if server.process is None or server in nodes:
                continue
            self.say(f"stopping {server.name} ...")
            server.stop(timeout=timeout)
        if self.cluster is not None:
            self.say(f"stopping the {len(nodes)} Kafka brokers ...")
            self.cluster.stop(timeout)
        self.started.clear()

    def run(self) -> int:
        self._install_signal_handlers()
        code = 0
        try:
            self.start_all()
            self.summary()
            code = self.watch()
        except _StopRequested as stop:
            self.say(f"\n{stop.args[0]}: stopping")
        except ServerError as exc:
            self.say(f"\nerror: {exc}")
            code = 1
        finally:
            self._stopping = True  # a signal now only hurries the shutdown
            self.stop_all()
        self.say("stopped" if code == 0 else "stopped (after an error)")
        return code


def redis_ready_url(url: str) -> bool:
    """PING the Redis of a redis:// URL (host and port only; a password-protected one counts as up)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return redis_ready(parts.port or 6379, parts.hostname or HOST)


def run_up(components: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    try:
        stack = Stack(components, env=env)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return stack.run()


__all__ = ["COMPONENTS", "Stack", "run_up"]
