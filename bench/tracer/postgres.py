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
        "-c max_parallel_workers_per_gather=0 -c jit=off -c timezone=UTC"
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

#: Depth 1's join alone: the person's visits clipped to [t1, t2], joined with the overlapping
#: visits there, as rows (no answer made of them yet: the second baseline).
DEPTH1 = """
WITH pv AS (
  SELECT venue_id, greatest(s, %(t1)s) AS a, least(e, %(t2)s) AS b
  FROM visits WHERE person_id = %(p)s AND s <= %(t2)s AND e >= %(t1)s)
SELECT q.person_id, pv.venue_id, greatest(pv.a, q.s), least(pv.b, q.e)
FROM pv JOIN visits q ON q.venue_id = pv.venue_id
 AND q.r && tstzrange(to_timestamp(pv.a / 1000.0), to_timestamp(pv.b / 1000.0), '[]')
WHERE q.person_id <> %(p)s AND least(pv.b, q.e) - greatest(pv.a, q.s) >= %(m)s
"""

# The same answers as the API's, whole: contacts grouped with their totals and `via`, in the
# SPEC's order, times in RFC 3339, made by PostgreSQL as JSON text: a SQL engine answering the
# same query, not only its join. The JSON is written by text concatenation and string_agg, the
# fastest form found (on the bench's 200 depth-1 queries, p99 10.2 ms against 14.9 ms with
# json_build_object and json_agg). Ids are quoted as they are: the event schemas allow only
# [A-Za-z0-9_.-] (`scantrace_common.events.Id`), nothing JSON must escape. Times are PostgreSQL's
# own JSON encoding of timestamptz (the session runs in UTC: "...T08:15:00.123+00:00"), its
# cheapest RFC 3339 form; persons and venues sort as bytes (COLLATE "C"), as the API sorts them.


def _ts(ms: str) -> str:
    return f"to_json(timestamptz 'epoch' + {ms} * interval '1 millisecond')::text"


def _quoted(column: str) -> str:
    return f"""('"' || {column} || '"')"""


#: The case's windows (pv) and its depth-1 encounters (e1).
_E1 = """WITH pv AS (
  SELECT venue_id, greatest(s, %(t1)s) AS a, least(e, %(t2)s) AS b
  FROM visits WHERE person_id = %(p)s AND s <= %(t2)s AND e >= %(t1)s),
e1 AS (
  SELECT q.person_id, pv.venue_id, greatest(pv.a, q.s) AS s, least(pv.b, q.e) AS e
  FROM pv JOIN visits q ON q.venue_id = pv.venue_id
   AND q.r && tstzrange(to_timestamp(pv.a / 1000.0), to_timestamp(pv.b / 1000.0), '[]')
  WHERE q.person_id <> %(p)s AND least(pv.b, q.e) - greatest(pv.a, q.s) >= %(m)s)"""

#: Depth 2's encounters (e2): each depth-1 contact's visits clipped to [its earliest encounter
#: with p, t2], against persons other than p and the depth-1 contacts.
_E2 = """c1 AS (SELECT person_id, min(s) AS s0 FROM e1 GROUP BY person_id),
cv AS (
  SELECT v.person_id AS via, v.venue_id, greatest(v.s, c1.s0) AS a, least(v.e, %(t2)s) AS b
  FROM c1 JOIN visits v ON v.person_id = c1.person_id AND v.s <= %(t2)s AND v.e >= c1.s0),
e2 AS (
  SELECT cv.via, q.person_id, cv.venue_id, greatest(cv.a, q.s) AS s, least(cv.b, q.e) AS e
  FROM cv JOIN visits q ON q.venue_id = cv.venue_id
   AND q.r && tstzrange(to_timestamp(cv.a / 1000.0), to_timestamp(cv.b / 1000.0), '[]')
  WHERE q.person_id <> %(p)s AND NOT EXISTS (SELECT 1 FROM c1 WHERE c1.person_id = q.person_id)
   AND least(cv.b, q.e) - greatest(cv.a, q.s) >= %(m)s)"""


def _contacts(depth: int, encounters: str, via: str) -> str:
    """One row per contact of `encounters` (a CTE): depth, person, total, and the contact's JSON
    object (its encounters in the SPEC's order). Built from this module's constants only."""
    minutes = "((e - s) / 60000)"
    encounter = (
        f"""'{{"venue_id":' || {_quoted("venue_id")} || ',"start":' || {_ts("s")} """
        f"""|| ',"end":' || {_ts("e")} || ',"overlap_minutes":' || {minutes}::text || '}}'"""
    )
    return f"""SELECT {depth} AS depth, person_id, sum({minutes}) AS total,
    '{{"person_id":' || {_quoted("person_id")} || ',"depth":{depth},"via":' || {via}
    || ',"total_overlap_minutes":' || sum({minutes})::text || ',"encounters":['
    || string_agg({encounter}, ',' ORDER BY s, venue_id COLLATE "C", e) || ']}}' AS body
  FROM {encounters} GROUP BY person_id"""  # noqa: S608 - constants only


def _answer(depth: int) -> str:
    """The answer's JSON from the contacts in CTE g, ordered as the SPEC says."""
    return f"""SELECT '{{"person_id":' || to_json(%(p)s::text)::text
  || ',"from":' || {_ts("%(t1)s::bigint")} || ',"to":' || {_ts("%(t2)s::bigint")}
  || ',"min_overlap_minutes":' || %(mm)s::int::text || ',"depth":{depth},"contacts":['
  || coalesce(string_agg(body, ',' ORDER BY depth, total DESC, person_id COLLATE "C"), '')
  || ']}}'
FROM g"""  # noqa: S608 - constants only


#: Depth 1, the whole answer (parameters p, t1, t2, m in ms, mm in minutes).
_NULL = "'null'"  # a depth-1 contact's via

ANSWER_DEPTH1 = f"{_E1},\ng AS ({_contacts(1, 'e1', _NULL)})\n{_answer(1)}"

#: Depth 2, the whole answer: the depth-1 contacts, then the depth-2 ones; a depth-2 contact's
#: `via` is the depth-1 contact of its earliest encounter (ties: the smaller id).
ANSWER_DEPTH2 = (
    f"{_E1},\n{_E2},\ng AS ({_contacts(1, 'e1', _NULL)}\nUNION ALL\n"
    f"""{_contacts(2, "e2", _quoted('(array_agg(via ORDER BY s, via COLLATE "C"))[1]'))})\n"""
    f"{_answer(2)}"
)
