"""The Apache Kafka broker jars: fetched once from Maven Central with `mvn`, then reused.

The artifact list is `deploy/kafka/pom.xml`; the jars land in
`~/.cache/scantrace/kafka-<version>/lib` (shared by every state folder and by the tests).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from scantrace_cli.stack.paths import cache_dir
from scantrace_cli.stack.process import ServerError

#: Kafka 4.4 runs KRaft only, and aiokafka 0.14 and faust-streaming 0.15.3 work against it
#: (checked: idempotent acks=all produce, group consume and commit, faust tables).
KAFKA_VERSION = "4.4.0"
_COMPLETE = ".complete"
_MIN_JAVA = 17


def kafka_version(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("SCANTRACE_KAFKA_VERSION") or KAFKA_VERSION


def find_pom() -> Path:
    """deploy/kafka/pom.xml of the working copy this package runs from (or the current folder)."""
    for base in (Path(__file__).resolve(), Path.cwd().resolve()):
        for folder in (base, *base.parents):
            candidate = folder / "deploy" / "kafka" / "pom.xml"
            if candidate.is_file():
                return candidate
    raise ServerError("deploy/kafka/pom.xml not found: run scantrace from its working copy")


def java_major_version() -> int | None:
    """The major version of `java` on PATH, or None when there is none."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means 8


def missing_prerequisites() -> str | None:
    """Why Apache Kafka cannot run here (no Java 17+ or no Maven), or None when it can."""
    if shutil.which("mvn") is None and not _any_cached_lib():
        return "Maven (mvn) is not installed"
    major = java_major_version()
    if major is None:
        return "Java is not installed"
    if major < _MIN_JAVA:
        return f"Java {major} is older than {_MIN_JAVA}"
    return None


def _any_cached_lib() -> bool:
    return (cache_dir() / f"kafka-{kafka_version()}" / "lib" / _COMPLETE).exists()


def ensure_kafka_lib(version: str | None = None, *, announce: bool = False) -> Path:
    """The folder of the broker's jars, fetched with mvn on first use (a lock guards parallel runs)."""
    version = version or kafka_version()
    home = cache_dir() / f"kafka-{version}"
    lib = home / "lib"
    if (lib / _COMPLETE).exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (lib / _COMPLETE).exists():  # another process fetched it while we waited
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServerError("Maven (mvn) is needed once to fetch Kafka: apt-get install maven")
        staging = home / f"lib.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        if announce:
            print(
                f"fetching Apache Kafka {version} jars with mvn into {lib} (once) ...", flush=True
            )
        started = time.monotonic()
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(find_pom()),
                f"-Dkafka.version={version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise ServerError(
                f"mvn could not fetch Apache Kafka {version} (exit {result.returncode}):\n{tail}\n"
                "check that Maven Central is reachable, or set SCANTRACE_LOCAL_BROKER=tansu"
            )
        (staging / _COMPLETE).write_text(f"{time.monotonic() - started:.1f} s\n")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        if announce:
            print(f"fetched in {time.monotonic() - started:.1f} s", flush=True)
    return lib
