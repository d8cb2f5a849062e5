#!/usr/bin/env bash
# User enumeration by timing: the latency of a login with an unknown
# username against a login of an existing user with a wrong password, N
# tries of each (default 200), interleaved so that drift hits both alike,
# against a fresh server. Prints both medians and their ratio; latchkey's
# target is a ratio within 10 % of 1. A measurement, not a test: run it by
# hand on a quiet machine.
#
#   bench/login_timing.sh                 # target/release/latchkey (builds it)
#   LATCHKEY_BIN=target/debug/latchkey N=200 bench/login_timing.sh
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-200}
bin=${LATCHKEY_BIN:-target/release/latchkey}
if [[ -z ${LATCHKEY_BIN:-} ]]; then
    cargo build --release --quiet
fi
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }

dir=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# The rate limiter would answer 429 after a few failures: lift it.
LATCHKEY_ADMIN_PASSWORD=bench-admin-password \
LOGIN_MAX_FAILURES=1000000 LOGIN_MAX_FAILURES_PER_IP=1000000 RUST_LOG=error \
    "$bin" serve --bind 127.0.0.1:0 --database-url "sqlite://$dir/bench.db" >"$dir/out" 2>/dev/null &
pid=$!
url=
for _ in $(seq 1 300); do
    url=$(sed -n 's/^latchkey listening on //p' "$dir/out")
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || { echo "the server did not start" >&2; exit 1; }

login() { # username → seconds
    curl -s -o /dev/null -w '%{time_total}\n' --data-urlencode "username=$1" \
        --data-urlencode 'password=wrong-password' "$url/token"
}
# Warm up both paths (first hashes, connection pool).
for _ in 1 2 3; do login admin >/dev/null; login nobody >/dev/null; done
for i in $(seq 1 "$n"); do
    login admin >>"$dir/known"
    login "nobody-$i" >>"$dir/unknown"
done

median() {
    sort -g "$1" | awk '{v[NR] = $1} END {
        if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f", m * 1000 }'
}
known=$(median "$dir/known")
unknown=$(median "$dir/unknown")
ratio=$(awk -v a="$unknown" -v b="$known" 'BEGIN { printf "%.3f", a / b }')
echo "binary:                         $bin"
echo "tries:                          $n each, interleaved"
echo "wrong password, median:         $known ms"
echo "unknown user, median:           $unknown ms"
echo "ratio unknown / wrong password: $ratio"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9 && r <= 1.1) }' \
    && echo "within 10 %: yes" || echo "within 10 %: NO"
