#!/usr/bin/env bash
# `make demo`: start the stack unless it already answers, simulate the last days of a small province
# through the public APIs, print the summary and where to look next. The stack keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

state="${SCANTRACE_STATE_DIR:-.scantrace}"
gateway="http://127.0.0.1:${SCANTRACE_GATEWAY_PORT:-8000}"
tracer="http://127.0.0.1:${SCANTRACE_TRACER_PORT:-8001}"
reporter="http://127.0.0.1:${SCANTRACE_REPORTER_PORT:-8002}"
prometheus="http://127.0.0.1:${SCANTRACE_LOCAL_PROMETHEUS_PORT:-9090}"
people="${DEMO_PEOPLE:-20000}"
# Yesterday and today: a whole past day for visits and exposures at any hour; today's compliance
# counts what has happened so far (venues registered now do not count for yesterday, SPEC 6).
days="${DEMO_DAYS:-2}"

ready() { curl -fsS -o /dev/null --max-time 2 "$1/readyz" 2>/dev/null; }
all_ready() { ready "$gateway" && ready "$tracer" && ready "$reporter"; }

mkdir -p "$state/logs"
if all_ready; then
  echo "demo: the stack is already running"
else
  echo "demo: starting the stack in the background (log: $state/logs/up.log)"
  nohup uv run scantrace up >"$state/logs/up.log" 2>&1 &
  echo $! >"$state/up.pid"
  for _ in $(seq 1 300); do
    all_ready && break
    if ! kill -0 "$(cat "$state/up.pid")" 2>/dev/null; then
      echo "demo: the stack stopped while starting; last lines of its log:" >&2
      tail -n 30 "$state/logs/up.log" >&2
      exit 1
    fi
    sleep 1
  done
  all_ready || { echo "demo: the stack was not ready after 300 s; see $state/logs/" >&2; exit 1; }
fi

echo "demo: simulating ${people} people over the last ${days} days up to now (seed 1)"
# SCANTRACE_RATE_LIMITS is not needed: the simulator spreads its devices like real phones.
uv run scantrace simulate --people "$people" --days "$days" --seed 1 \
  --gateway-url "$gateway" --tracer-url "$tracer" --reporter-url "$reporter" \
  --prometheus-url "$prometheus"

cat <<EOT

Where to look next
  metrics:     $gateway/metrics  $tracer/metrics  $reporter/metrics
  API docs:    $gateway/docs  $tracer/docs  $reporter/docs
  prometheus:  $prometheus  (graphs and alerts: the links above, when \`prometheus\` is installed)
  dashboards:  deploy/grafana/dashboards/*.json (Grafana, provisioned by \`docker-compose up\`;
               see docs/operations.md)
  console:     http://127.0.0.1:${SCANTRACE_CONSOLE_PORT:-8003}  (first admin: \`make staff\`, then sign in;
               more accounts in the console's "Staff accounts" page)
  a token:     make -s token ROLE=epidemiologist SUB=me
  stop:        kill \$(cat $state/up.pid)   (or Ctrl-C where \`make run\` runs)
EOT
