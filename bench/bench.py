#!/usr/bin/env python3
"""latchkey's load benchmark: starts the release binary on loopback, drives it
with wrk and prints medians, each beside the trivial answer (/healthz)
measured by the same server in the same run.

Run it through bench/run.sh, which installs wrk and sqlite3 when missing and
builds the release binary. Only loopback addresses are ever contacted; every
load run is bounded in time.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

PASSWORD = "bench-password-1"
ADMIN_PASSWORD = "bench-admin-password"
HS_SECRET = "bench-secret-key-at-least-32-bytes-long-0123456789"
# Password hashes (19 MiB of argon2id memory each) before the memory section's
# load, so its peak includes what the allocator keeps of them.
LOGINS_BEFORE_LOAD = 20

# Every wrk script ends with this report: one JSON line the driver parses.
REPORT_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%.0f,"duration_us":%.0f,"socket_errors":%.0f,' ..
    '"status_errors":%.0f,"timeouts":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""

GET_LUA = r"""
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
""" + REPORT_LUA

LOGIN_LUA = r"""
wrk.method = "POST"
wrk.path = "/token"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
""" + REPORT_LUA

# One connection per thread, so each thread's chain of refresh tokens is
# strictly sequential: a response's new token is used for the next request.
REFRESH_LUA = r"""
local count = 0
function setup(thread)
  count = count + 1
  thread:set("index", count)
end
function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    i = i + 1
    if i == index then token = line end
  end
end
function request()
  return wrk.format("POST", "/token/refresh",
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    "refresh_token=" .. token)
end
function response(status, headers, body)
  if status == 200 then
    local fresh = body:match('"refresh_token":"([^"]+)"')
    if fresh then token = fresh end
  end
end
""" + REPORT_LUA


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, form=None, body=None, headers=None, timeout=10):
    """(status, parsed JSON or None)."""
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def taskset(cpus):
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", ",".join(str(c) for c in cpus)]
    return []


class Server:
    """One latchkey process on a loopback port."""

    def __init__(self, bench, name, database_url, env=None):
        self.bench = bench
        self.name = name
        self.database_url = database_url
        self.extra_env = env or {}
        self.port = None
        self.proc = None
        self.started_to_ready = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "ALGORITHM", "REDIS_URL", "RUST_LOG")
        }
        env.update(
            DATABASE_URL=self.database_url,
            BIND=f"127.0.0.1:{self.port}",
            LATCHKEY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout=60):
        self.port = free_port()
        logfile = open(os.path.join(self.bench.tmp, f"{self.name}.log"), "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            taskset(self.bench.server_cpus) + [self.bench.binary, "serve"],
            env=self.env(),
            cwd=self.bench.tmp,
            stdout=logfile,
            stderr=logfile,
        )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name}: the server exited (see {logfile.name})")
            try:
                status, _ = http("GET", self.base + "/readyz", timeout=1)
                if status == 200:
                    self.started_to_ready = time.monotonic() - started
                    return self
            except OSError:
                pass
            time.sleep(0.002)
        raise SystemExit(f"{self.name}: not ready after {timeout} s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def register(self, username="bench"):
        status, body = http(
            "POST", self.base + "/users", body={"username": username, "password": PASSWORD}
        )
        if status not in (201, 409):
            raise SystemExit(f"{self.name}: registration answered {status} {body}")

    def login(self, username="bench"):
        status, body = http(
            "POST", self.base + "/token", form={"username": username, "password": PASSWORD}
        )
        if status != 200:
            raise SystemExit(f"{self.name}: login answered {status} {body}")
        return body


class Bench:
    def __init__(self, args):
        self.args = args
        self.binary = args.binary
        self.tmp = tempfile.mkdtemp(prefix="latchkey-bench-")
        self.scripts = {}
        for name, text in (("get", GET_LUA), ("login", LOGIN_LUA), ("refresh", REFRESH_LUA)):
            path = os.path.join(self.tmp, f"{name}.lua")
            with open(path, "w") as f:
                f.write(text)
            self.scripts[name] = path
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            # The load generator gets the last core, the server the rest.
            self.server_cpus = cpus[:-1]
            self.client_cpus = cpus[-1:]
            self.pinning = (
                f"server pinned to CPU {','.join(map(str, self.server_cpus))}, "
                f"wrk to CPU {self.client_cpus[0]} (taskset)"
            )
        else:
            self.server_cpus = []
            self.client_cpus = []
            self.pinning = "one CPU: server and wrk share it (not pinned)"
        self.pg_databases = []
        self.redis_prefixes = []
        self.out = []

    # -- output ---------------------------------------------------------------

    def emit(self, line=""):
        print(line, flush=True)
        self.out.append(line)

    def table(self, header, rows):
        self.emit("| " + " | ".join(header) + " |")
        self.emit("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.emit("| " + " | ".join(str(c) for c in row) + " |")
        self.emit()

    # -- load -----------------------------------------------------------------

    def wrk(self, url, connections, duration, script="get", threads=1, env=None, timeout=10):
        cmd = taskset(self.client_cpus) + [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={timeout}s",
            "-s",
            self.scripts[script],
            url,
        ]
        full_env = dict(os.environ)
        full_env.update(env or {})
        return self._parse(subprocess.run(cmd, env=full_env, capture_output=True, text=True), cmd)

    def wrk_start(self, url, connections, duration, script="get", threads=1, env=None, timeout=10):
        cmd = taskset(self.client_cpus) + [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={timeout}s",
            "-s",
            self.scripts[script],
            url,
        ]
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.Popen(
            cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc, cmd

    def wrk_finish(self, started):
        proc, cmd = started
        out, err = proc.communicate()
        return self._parse(subprocess.CompletedProcess(cmd, proc.returncode, out, err), cmd)

    @staticmethod
    def _parse(done, cmd):
        for line in done.stdout.splitlines():
            if line.startswith("WRK "):
                r = json.loads(line[4:])
                r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
                r["errors"] = r["socket_errors"] + r["status_errors"] + r["timeouts"]
                return r
        raise SystemExit(f"wrk gave no report: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")

    def hash_time(self):
        out = subprocess.run(
            taskset(self.server_cpus) + [self.binary, "hash-time", "--count", "15"],
            env={**os.environ, "DATABASE_URL": "sqlite::memory:"},
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.strip())

    # -- stores ---------------------------------------------------------------

    def sqlite_url(self, name):
        return f"sqlite://{os.path.join(self.tmp, name + '.db')}"

    def pg_available(self):
        if not shutil.which("psql"):
            return "psql not installed"
        r = subprocess.run(
            ["psql", self.args.pg_url + "/postgres", "-qAtc", "SELECT 1"], capture_output=True, text=True
        )
        return None if r.returncode == 0 else f"PostgreSQL at {self.args.pg_url} unreachable"

    def pg_database(self):
        name = f"latchkey_bench_{uuid.uuid4().hex[:12]}"
        subprocess.run(
            ["psql", self.args.pg_url + "/postgres", "-qAtc", f"CREATE DATABASE {name}"],
            check=True,
            capture_output=True,
        )
        self.pg_databases.append(name)
        return self.args.pg_url + "/" + name

    def redis_available(self):
        url = urllib.parse.urlparse(self.args.redis_url)
        try:
            with socket.create_connection((url.hostname, url.port or 6379), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return None if s.recv(16).startswith(b"+PONG") else "Redis did not answer PING"
        except OSError as e:
            return f"Redis at {self.args.redis_url} unreachable ({e})"

    def cleanup(self):
        for name in self.pg_databases:
            subprocess.run(
                ["psql", self.args.pg_url + "/postgres", "-qAtc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                capture_output=True,
            )
        if self.redis_prefixes and shutil.which("redis-cli"):
            url = urllib.parse.urlparse(self.args.redis_url)
            host = ["-h", url.hostname, "-p", str(url.port or 6379)]
            for prefix in self.redis_prefixes:
                keys = subprocess.run(
                    ["redis-cli", *host, "--scan", "--pattern", prefix + "*"],
                    capture_output=True,
                    text=True,
                ).stdout.split()
                for i in range(0, len(keys), 500):
                    subprocess.run(["redis-cli", *host, "DEL", *keys[i : i + 500]], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- measurements ---------------------------------------------------------

    def healthz_and_me(self, server, token, runs, duration):
        """Alternating runs of /healthz and /users/me on the same connections."""
        env = {"BENCH_TOKEN": token}
        c = self.args.connections
        self.wrk(server.base + "/healthz", c, 1)
        self.wrk(server.base + "/users/me", c, 1, env=env)
        healthz, me, errors = [], [], 0
        for _ in range(runs):
            h = self.wrk(server.base + "/healthz", c, duration)
            m = self.wrk(server.base + "/users/me", c, duration, env=env)
            healthz.append(h["rps"])
            me.append(m["rps"])
            errors += h["errors"] + m["errors"]
        ratios = [m / h for h, m in zip(healthz, me)]
        return statistics.median(healthz), statistics.median(me), statistics.median(ratios), errors

    def login_rate(self, server, runs, duration, connections=16):
        body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD})
        rates, errors = [], 0
        for _ in range(runs):
            r = self.wrk(
                server.base + "/token",
                connections,
                duration,
                script="login",
                env={"BENCH_BODY": body},
                timeout=30,
            )
            rates.append(r["rps"])
            errors += r["errors"]
        return statistics.median(rates), errors

    def refresh_rate(self, server, runs, duration, connections=8):
        rates, errors = [], 0
        for _ in range(runs):
            tokens = os.path.join(self.tmp, "refresh-tokens.txt")
            with open(tokens, "w") as f:
                for _ in range(connections):
                    f.write(server.login()["refresh_token"] + "\n")
            r = self.wrk(
                server.base + "/token/refresh",
                connections,
                duration,
                script="refresh",
                threads=connections,
                env={"BENCH_TOKENS": tokens},
            )
            rates.append(r["rps"])
            errors += r["errors"]
        return statistics.median(rates), errors


def fmt(n):
    return f"{n:,.0f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def section_protected(b, results):
    b.emit("## 1. Protected request vs trivial answer (SQLite)")
    b.emit()
    b.emit(
        f"`GET /users/me` with a valid token vs `GET /healthz`, same server, "
        f"{b.args.connections} keep-alive connections, alternating runs."
    )
    b.emit()
    rows = []
    for label, env in (("EdDSA (default)", {}), ("HS256", {"SECRET_KEY": HS_SECRET})):
        key = "sqlite-" + ("hs256" if env else "eddsa")
        server = Server(b, key, b.sqlite_url(key), env).start()
        try:
            server.register()
            token = server.login()["access_token"]
            h, m, ratio, errors = b.healthz_and_me(server, token, b.args.runs, b.args.duration)
        finally:
            server.stop()
        results[key] = {"healthz": h, "me": m}
        rows.append(
            [label, fmt(h), fmt(m), f"{ratio:.2f}", "≥ 0.60", verdict(ratio >= 0.6 and not errors)]
            + ([f"{errors} errors"] if errors else [])
        )
    b.table(["signing", "/healthz req/s", "/users/me req/s", "ratio", "goal", ""], rows)


def section_login(b, results):
    b.emit("## 2. Login isolation (SQLite, EdDSA)")
    b.emit()
    server = Server(b, "sqlite-login", b.sqlite_url("sqlite-login")).start()
    try:
        server.register()
        token = server.login()["access_token"]
        probe_env = {"BENCH_TOKEN": token, "BENCH_DELAY_MS": "10"}
        body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD})
        quiet_p99, flood_p99, flood_p50, logins, hashes, errors = [], [], [], [], [], 0
        cores = len(b.server_cpus) or os.cpu_count()
        for _ in range(b.args.runs):
            hashes.append(b.hash_time())
            # The probe: 4 connections, each pausing 10 ms between requests, so
            # it measures waiting, not its own saturation of the server.
            quiet = b.wrk(server.base + "/users/me", 4, b.args.duration, env=probe_env)
            flood = b.wrk_start(
                server.base + "/token",
                50,
                b.args.duration + 2,
                script="login",
                env={"BENCH_BODY": body},
                timeout=60,
            )
            time.sleep(1)
            probe = b.wrk(server.base + "/users/me", 4, b.args.duration, env=probe_env)
            flooded = b.wrk_finish(flood)
            quiet_p99.append(quiet["p99_us"] / 1000)
            flood_p99.append(probe["p99_us"] / 1000)
            flood_p50.append(probe["p50_us"] / 1000)
            logins.append(flooded["rps"])
            errors += quiet["errors"] + probe["errors"] + flooded["errors"]
    finally:
        server.stop()
    hash_s = statistics.median(hashes)
    ceiling = cores / hash_s
    p99 = statistics.median(flood_p99)
    rate = statistics.median(logins)
    b.emit(
        f"50 connections flood `POST /token` (correct password) while 4 connections "
        f"probe `GET /users/me` (10 ms pause each); one argon2id password check took "
        f"{hash_s * 1000:.1f} ms (`latchkey hash-time`: checks queued back to back as in "
        f"a flood, median of runs, server's core{'s' if cores > 1 else ''}), "
        f"HASH_CONCURRENCY = {cores}."
    )
    b.emit()
    b.table(
        ["figure", "measured", "same-run baseline", "goal", ""],
        [
            [
                "/users/me p99 during the flood",
                f"{p99:.2f} ms (p50 {statistics.median(flood_p50):.2f} ms)",
                f"{statistics.median(quiet_p99):.2f} ms without it",
                "< 10 ms",
                verdict(p99 < 10),
            ],
            [
                "logins/s",
                f"{rate:.1f}",
                f"{ceiling:.1f} computed ({cores} core{'s' if cores > 1 else ''} / hash time)",
                "≥ 90 % of computed",
                verdict(rate >= 0.9 * ceiling) + f" ({rate / ceiling * 100:.0f} %)",
            ],
        ]
        + ([[f"{errors} errors", "", "", "", ""]] if errors else []),
    )
    results["login"] = {"p99_ms": p99, "rate": rate, "ceiling": ceiling, "hash_ms": hash_s * 1000}


def section_refresh(b, results):
    b.emit("## 3. Refresh round trips (rotation committed before the answer)")
    b.emit()
    b.emit("8 connections, each chaining its own refresh tokens (`POST /token/refresh`).")
    b.emit()
    rows = []
    stores = [("SQLite", lambda: b.sqlite_url("sqlite-refresh"), {})]
    why_not = b.pg_available()
    if why_not is None:
        stores.append(("PostgreSQL", b.pg_database, {}))
    for label, url, env in stores:
        server = Server(b, "refresh-" + label.lower(), url(), env).start()
        try:
            server.register()
            h = statistics.median(
                b.wrk(server.base + "/healthz", 8, b.args.duration)["rps"] for _ in range(b.args.runs)
            )
            rate, errors = b.refresh_rate(server, b.args.runs, b.args.duration)
        finally:
            server.stop()
        rows.append(
            [label, fmt(rate), fmt(h), "≥ 3,000", verdict(rate >= 3000 and not errors)]
            + ([f"{errors} errors"] if errors else [])
        )
    if why_not:
        rows.append(["PostgreSQL", "skipped: " + why_not, "", "", ""])
    b.table(["store", "refreshes/s", "/healthz req/s (8 conns)", "goal", ""], rows)


def section_memory(b, results):
    b.emit("## 4. Memory (SQLite, EdDSA; VmRSS)")
    b.emit()
    if not shutil.which("sqlite3"):
        b.emit("skipped: sqlite3 CLI not installed")
        b.emit()
        return
    key = "sqlite-memory"
    url = b.sqlite_url(key)
    # Idle is read 1 s after `/readyz` answers, before any other request.
    server = Server(b, key, url).start()
    try:
        time.sleep(1)
        idle = server.rss_bytes()
        server.register()
        for _ in range(LOGINS_BEFORE_LOAD):
            token = server.login()["access_token"]
        after_logins = server.rss_bytes()
        _, me_none, _, errors_none = b.healthz_and_me(server, token, b.args.runs, b.args.duration)
        started = b.wrk_start(server.base + "/healthz", 1000, max(b.args.duration, 5))
        peak = 0
        while started[0].poll() is None:
            time.sleep(0.25)
            peak = max(peak, server.rss_bytes())
        conns = b.wrk_finish(started)
    finally:
        server.stop()
    # Sessions revoked a minute ago whose tokens could still be alive: every
    # node must remember them all. Ids ascend so the insert only appends.
    n = b.args.revoked
    now = int(time.time())
    sql = f"""
PRAGMA cache_size = -200000;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), 1, {now - 3600}, {now - 60}, {now + 86400}, {now - 60}
FROM n;
COMMIT;
"""
    t0 = time.monotonic()
    subprocess.run(["sqlite3", url.removeprefix("sqlite://")], input=sql, text=True, check=True,
                   capture_output=True)
    insert_s = time.monotonic() - t0
    server = Server(b, key, url).start()
    try:
        start_1m = server.started_to_ready
        time.sleep(1)
        idle_1m = server.rss_bytes()
        _, me_1m, _, errors_1m = b.healthz_and_me(server, token, b.args.runs, b.args.duration)
    finally:
        server.stop()
    mb = 1024 * 1024
    per = (idle_1m - idle) / n
    errors = conns["errors"] + errors_none + errors_1m
    b.emit(
        f"{n:,} revoked, unexpired sessions inserted with sqlite3 in {insert_s:.1f} s; "
        f"the server then started (to `/readyz` 200) in {start_1m * 1000:.0f} ms. "
        "Idle = 1 s after `/readyz` answered, before any other request."
    )
    b.emit()
    b.table(
        ["figure", "measured", "same-run baseline", "goal", ""],
        [
            ["RSS idle", f"{idle / mb:.1f} MB", "", "< 30 MB", verdict(idle < 30 * mb)],
            [
                f"RSS after a registration and {LOGINS_BEFORE_LOAD} logins",
                f"{after_logins / mb:.1f} MB",
                f"{idle / mb:.1f} MB idle",
                "",
                "",
            ],
            [
                "RSS with 1,000 keep-alive connections (peak)",
                f"{peak / mb:.1f} MB",
                f"{fmt(conns['rps'])} /healthz req/s on them",
                "< 100 MB",
                verdict(peak < 100 * mb),
            ],
            [
                f"RSS idle with {n:,} revoked sessions",
                f"{idle_1m / mb:.1f} MB: {per:.0f} bytes each",
                f"{idle / mb:.1f} MB with none",
                "≤ 100 bytes each",
                verdict(per <= 100),
            ],
            [
                f"/users/me req/s with {n:,} revoked",
                fmt(me_1m),
                f"{fmt(me_none)} with none",
                "≥ 90 %",
                verdict(me_1m >= 0.9 * me_none) + f" ({me_1m / me_none * 100:.0f} %)",
            ],
        ]
        + ([[f"{errors} errors", "", "", "", ""]] if errors else []),
    )
    results["memory"] = {"idle": idle, "peak": peak, "per": per}


def section_start(b, results):
    b.emit("## 5. Start (existing SQLite database)")
    b.emit()
    key = "sqlite-start"
    url = b.sqlite_url(key)
    server = Server(b, key, url).start()
    server.register()
    server.stop()
    times = []
    for _ in range(max(5, b.args.runs)):
        server = Server(b, key, url).start()
        times.append(server.started_to_ready)
        server.stop()
    t = statistics.median(times) * 1000
    b.table(
        ["figure", "measured", "goal", ""],
        [["process start → `/readyz` 200", f"{t:.0f} ms (median of {len(times)})", "< 300 ms", verdict(t < 300)]],
    )


def section_stores(b, results):
    b.emit("## Stores: `/users/me` and password login per backend (EdDSA)")
    b.emit()
    b.emit(
        f"`/users/me` on {b.args.connections} connections, `POST /token` on 16; "
        "each beside the same server's `/healthz`."
    )
    b.emit()
    rows = []
    configs = [("SQLite", lambda: b.sqlite_url("stores-sqlite"), {})]
    pg = b.pg_available()
    redis = b.redis_available()
    if pg is None:
        configs.append(("PostgreSQL", b.pg_database, {}))
        if redis is None:
            prefix = f"latchkey-bench-{uuid.uuid4().hex[:8]}"
            b.redis_prefixes.append(prefix)
            configs.append(
                ("PostgreSQL + Redis", b.pg_database,
                 {"REDIS_URL": b.args.redis_url, "REDIS_PREFIX": prefix})
            )
    for label, url, env in configs:
        server = Server(b, "stores-" + label.lower().replace(" ", ""), url(), env).start()
        try:
            server.register()
            token = server.login()["access_token"]
            h, m, ratio, errors = b.healthz_and_me(server, token, b.args.runs, b.args.duration)
            logins, lerr = b.login_rate(server, b.args.runs, b.args.duration)
        finally:
            server.stop()
        rows.append(
            [label, fmt(h), f"{fmt(m)} ({ratio:.2f})", f"{logins:.1f}"]
            + ([f"{errors + lerr} errors"] if errors + lerr else [])
        )
    if pg:
        rows.append(["PostgreSQL", "skipped: " + pg, "", ""])
    elif redis:
        rows.append(["PostgreSQL + Redis", "skipped: " + redis, "", ""])
    b.table(["store", "/healthz req/s", "/users/me req/s (ratio)", "POST /token logins/s"], rows)


SECTIONS = {
    "protected": section_protected,
    "login": section_login,
    "refresh": section_refresh,
    "memory": section_memory,
    "start": section_start,
    "stores": section_stores,
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average():
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 run of 3 s each (a smoke run)")
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    p.add_argument("--duration", type=int, default=10, help="seconds per load run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--revoked", type=int, default=1_000_000, help="revoked sessions for section 4")
    p.add_argument(
        "--section",
        action="append",
        choices=sorted(SECTIONS),
        help="run only this section (repeatable); default all",
    )
    p.add_argument("--binary", default="target/release/latchkey")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"))
    p.add_argument("--markdown", help="also write the tables to this file")
    args = p.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 3
    args.pg_url = args.pg_url.rstrip("/")
    if args.pg_url.count("/") > 2:
        # A URL naming a database: the benchmark creates its own beside it.
        args.pg_url = args.pg_url.rsplit("/", 1)[0]
    args.binary = os.path.abspath(args.binary)
    b = Bench(args)
    words = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    wrk_version = " ".join(words[:2]) if words else "wrk"
    started = time.monotonic()
    b.emit(
        f"latchkey benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{cpu_model()} ({os.cpu_count()} cores), {args.runs} run{'s' if args.runs > 1 else ''} "
        f"× {args.duration} s per figure, medians"
    )
    b.emit(f"{b.pinning}; {wrk_version}; loopback; release binary {args.binary}")
    b.emit(f"load average before the run: {load_average()} (other work on these cores makes every figure noisy; compare each with its same-run baseline)")
    b.emit()
    results = {}
    try:
        for name in args.section or list(SECTIONS):
            log(f"-- {name}")
            SECTIONS[name](b, results)
    finally:
        b.cleanup()
    b.emit(f"total {time.monotonic() - started:.0f} s; load average after the run: {load_average()}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(b.out) + "\n")


if __name__ == "__main__":
    main()
