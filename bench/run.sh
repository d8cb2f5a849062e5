#!/usr/bin/env bash
# latchkey's benchmark: installs wrk and sqlite3 (Debian) when missing, builds
# the release binary, then runs bench/bench.py with the given options:
#   bench/run.sh                  every section, 3 runs of 10 s (about 12 min)
#   bench/run.sh --quick          1 run of 3 s (a smoke run)
#   bench/run.sh --section login  one section (repeatable); --help lists them
# PostgreSQL (postgres://postgres@127.0.0.1:5432, a fresh database created and
# dropped) and Redis (redis://127.0.0.1:6379) are used when they answer.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
fi

if [[ " $* " != *" --help "* && " $* " != *" --binary "* ]]; then
    cargo build --release --quiet --bin latchkey
fi
exec python3 bench/bench.py "$@"
