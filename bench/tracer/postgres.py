"""PostgreSQL 15 as the baseline of the exposure queries: a throwaway cluster in a temp folder.

Debian's `postgresql-15` is installed by `ensure_installed()` when missing (apt-get, as root).
The visits table has a GiST index on (venue_id, tstzrange) (btree_gist) and a btree on person.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def ensure_installed() -> None:
    if (PG_BIN / "initdb").exists():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "postgresql-15", "postgresql-contrib"],
        check=True,
        env=env,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cluster(state: Path) -> Iterator[str]:
    """A running PostgreSQL on 127.0.0.1:<free port>; yields its conninfo. Runs as `postgres`
    when we are root (initdb refuses root)."""
    ensure_installed()
    data = state / "pgdata"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(state, "postgres")
        shutil.chown(data, "postgres")
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    subprocess.run(
        [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={data} "
        "-c shared_buffers=512MB -c work_mem=64MB -c fsync=off -c synchronous_commit=off "
        "-c max_parallel_workers_per_gather=0 -c jit=off"
    )
    subprocess.run(
        [
            *prefix,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-w",
            "-l",
            str(data / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )
        time.sleep(0.2)
        shutil.rmtree(data, ignore_errors=True)


SCHEMA = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP TABLE IF EXISTS visits;
CREATE UNLOGGED TABLE visits (person_id text, venue_id text, s bigint, e bigint, r tstzrange);
"""

INDEXES = """
UPDATE visits SET r = tstzrange(to_timestamp(s / 1000.0), to_timestamp(e / 1000.0), '[]');
CREATE INDEX visits_venue_range ON visits USING gist (venue_id, r);
CREATE INDEX visits_person ON visits (person_id, s);
VACUUM ANALYZE visits;
"""

#: Depth 1: the person's visits clipped to [t1, t2], joined with overlapping visits there.
DEPTH1 = """
WITH pv AS (
  SELECT venue_id, greatest(s, %(t1)s) AS a, least(e, %(t2)s) AS b
  FROM visits WHERE person_id = %(p)s AND s <= %(t2)s AND e >= %(t1)s)
SELECT q.person_id, pv.venue_id, greatest(pv.a, q.s), least(pv.b, q.e)
FROM pv JOIN visits q ON q.venue_id = pv.venue_id
 AND q.r && tstzrange(to_timestamp(pv.a / 1000.0), to_timestamp(pv.b / 1000.0), '[]')
WHERE q.person_id <> %(p)s AND least(pv.b, q.e) - greatest(pv.a, q.s) >= %(m)s
"""

#: Depth 2: each depth-1 contact's visits clipped to [its first encounter, t2].
DEPTH2 = """
WITH c AS (SELECT * FROM unnest(%(cs)s::text[], %(ss)s::bigint[]) AS c(person_id, s0)),
cv AS (
  SELECT v.person_id AS via, v.venue_id, greatest(v.s, c.s0) AS a, least(v.e, %(t2)s) AS b
  FROM c JOIN visits v ON v.person_id = c.person_id AND v.s <= %(t2)s AND v.e >= c.s0)
SELECT cv.via, q.person_id, cv.venue_id, greatest(cv.a, q.s), least(cv.b, q.e)
FROM cv JOIN visits q ON q.venue_id = cv.venue_id
 AND q.r && tstzrange(to_timestamp(cv.a / 1000.0), to_timestamp(cv.b / 1000.0), '[]')
WHERE q.person_id <> ALL(%(ex)s::text[]) AND least(cv.b, q.e) - greatest(cv.a, q.s) >= %(m)s
"""
