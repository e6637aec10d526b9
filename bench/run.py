#!/usr/bin/env python3
"""todo-api benchmark: one command, everything measured in the same sitting.

    python3 bench/run.py                 # full run (about 25 minutes), writes docs/benchmarks.md
    python3 bench/run.py --quick         # 3 s per point, no soak: a smoke run of the harness

What it does (see docs/benchmarks.md for the results and their reading):
  1. builds todo-api and the ceiling server (bench/ceiling.rs) in release mode;
  2. seeds 50 users x 20 tasks through the API, deterministically (user u owns ids u*20+1..u*20+20),
     on SQLite, on PostgreSQL, and on the FastAPI baseline (../shared/reference/fastapi);
  3. drives every scenario (get, list, toggle, create, update, mixed) at 64 and 1000 connections
     with ../shared/bench/todo_bench.py (wrk + Lua), sampling each server's peak RSS;
  3b. the same PostgreSQL scenarios through a transaction-mode PgBouncer (DATABASE_POOLER=transaction:
     unnamed statements) when pgbouncer is installed, and the anchor (bench/anchor.rs: axum + tokio-postgres,
     one pipelined connection per core, one prepared SELECT by id; TechEmpower's /db shape) on `get`;
  4. measures the ceiling: H = the same HTTP stack without the database (bench/ceiling.rs),
     P = pgbench -M prepared running each route's SQL at the pool's concurrency; ideal = 1/(1/H+1/P);
  5. scale: get/list latency for users with 10, 1,000 and 10,000 tasks, and get latency with
     1,000,000 tasks across 10,000 users;
  6. soak: 1000 keep-alive connections for 60 s (mixed) on PostgreSQL, errors and peak RSS;
  7. writes docs/benchmarks.md and docs/benchmarks.svg.

Needs: wrk, pgbench and psql, python3 (with venv) and a PostgreSQL at --pg (trust auth).
"""
import argparse, datetime, json, os, platform, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import importlib.util

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
SCENARIOS = ["get", "list", "toggle", "create", "update", "mixed"]
USERS, PER_USER, USER_BASE = 50, 20, 100000
POOL = 10
SECRET = "bench-secret-bench-secret-bench-secret-0"

spec = importlib.util.spec_from_file_location("todo_bench", os.path.join(SHARED, "bench", "todo_bench.py"))
todo_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(todo_bench)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=60):
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Server:
    """A server process, with its peak RSS sampled while a measurement runs."""

    def __init__(self, name, cmd, env, port, health="/health", cwd=None, reset=None):
        self.name, self.port, self.reset, self.env = name, port, reset, env
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(tempfile.gettempdir(), f"bench-{name}.log"), "w")
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=self.log, stderr=self.log,
                                     start_new_session=True, cwd=cwd)
        if health:
            wait_http(self.base + health)

    def pids(self):
        # uvicorn's workers are children; ps exits 1 when there are none.
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], text=True, capture_output=True).stdout
        return [self.proc.pid] + [int(p) for p in out.split()]

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
        return total

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except Exception:
            os.killpg(self.proc.pid, signal.SIGKILL)


def reset(server):
    """Back to the seeded rows, so every scenario sees 20 tasks per user whatever ran before."""
    if server.reset:
        server.reset()


def measure(server, rows, scenario, conns, duration):
    peak = [server.rss_kib()]
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            peak[0] = max(peak[0], server.rss_kib())

    t = threading.Thread(target=sample)
    t.start()
    try:
        r = todo_bench.run_wrk(server.base, rows, scenario, duration, conns, 2)
    finally:
        done.set()
        t.join()
    r["errors"] = r["non2xx"] + r["socket_errors"]
    r["peak_rss_mib"] = round(peak[0] / 1024, 1)
    reset(server)
    return r


def seed(base, create_user=None):
    """Deterministic seed: user u (id str(USER_BASE+u)) owns tasks u*20+1..u*20+20 on a fresh database."""
    rows = []
    for u in range(USERS):
        uid = str(USER_BASE + u)
        tok = todo_bench.token(uid, SECRET, ttl=24 * 3600)
        ids = []
        for i in range(PER_USER):
            _, t = todo_bench.call("POST", f"{base}/api/{uid}/tasks", tok,
                                   {"title": f"task {i} of {uid}", "description": "seeded by benchmark " * 3})
            ids.append(t["id"])
        rows.append([uid, tok, ids])
    expected = [[u * PER_USER + i + 1 for i in range(PER_USER)] for u in range(USERS)]
    assert [r[2] for r in rows] == expected, "seeding must start from a fresh database"
    return rows


def seeded_rows():
    """The rows `seed` made (its ids are deterministic), for a server on an already seeded database."""
    return [[str(USER_BASE + u), todo_bench.token(str(USER_BASE + u), SECRET, ttl=24 * 3600),
             [u * PER_USER + i + 1 for i in range(PER_USER)]] for u in range(USERS)]


def psql(url, sql):
    return sh(["psql", url, "-Atqc", sql])


def fresh_pg_db(pg, name):
    server = pg.split("?")[0].rsplit("/", 1)[0]
    psql(server + "/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(server + "/postgres", f"CREATE DATABASE {name}")
    return server + "/" + name


SEEDED = USERS * PER_USER


# todo-api keeps each owner's task count (for MAX_TASKS_PER_USER) on its users row; rows
# deleted behind its back must be uncounted too, or the counts creep up to the quota.
RECOUNT = "UPDATE users SET task_count = (SELECT COUNT(*) FROM tasks WHERE tasks.user_id = users.id)"


def reset_pg(url, recount=True):
    return lambda: psql(url, f"DELETE FROM tasks WHERE id > {SEEDED}" + (f"; {RECOUNT}" if recount else ""))


def reset_sqlite(path):
    def run():
        import sqlite3
        db = sqlite3.connect(path, timeout=30)
        db.execute(f"DELETE FROM tasks WHERE id > {SEEDED}")
        db.execute(RECOUNT)
        db.commit()
        db.close()
    return run


def engine_database(engine, pg, work, name):
    """A fresh database for one server: its URL and how to reset it between scenarios."""
    if engine == "postgres":
        url = fresh_pg_db(pg, name) + "?sslmode=disable"
        return url, reset_pg(url)
    path = os.path.join(work, f"{name}.db")
    return f"sqlite:{path}", reset_sqlite(path)


# The SQL each route runs (src/store/sql.rs), for pgbench. Users are numeric strings so that
# pgbench's variables bind exactly where the server binds parameters; timestamps the server
# binds are now() here, and list's NULL filter is a typed literal (pgbench has no NULL variable).
COLS = "id, user_id, title, description, completed, created_at, updated_at, revision"
# A single-task write locks its owner's row first (sql.rs, `owner_first`) and takes no If-Match here.
OWNER_FIRST = "WITH owner AS (SELECT 1 FROM users WHERE id = :uid FOR UPDATE) "
OWNER_LOCKED = "(SELECT COUNT(*) FROM owner) >= 0 AND "
ANY_REVISION = "(NULL::int8[] IS NULL OR revision = ANY(NULL::int8[]))"
PICK = f"\\set u random(0, {USERS - 1})\n\\set id :u * {PER_USER} + random(1, {PER_USER})\n\\set uid {USER_BASE} + :u\n"
PGBENCH = {
    "get": PICK + f"SELECT {COLS} FROM tasks WHERE id = :id AND user_id = :uid;\n",
    "list": PICK + f"SELECT {COLS}, COUNT(*) OVER () AS total FROM tasks WHERE user_id = :uid "
                   "AND (NULL::boolean IS NULL OR completed = NULL::boolean) ORDER BY created_at DESC, id DESC "
                   "LIMIT 9223372036854775807 OFFSET 0;\n",
    "toggle": PICK + f"{OWNER_FIRST}UPDATE tasks SET completed = NOT completed, updated_at = now(), "
                     f"revision = revision + 1 WHERE id = :id AND user_id = :uid AND {OWNER_LOCKED}"
                     f"{ANY_REVISION} RETURNING {COLS};\n",
    "update": PICK + f"{OWNER_FIRST}UPDATE tasks SET title = COALESCE('updated title', title), "
                     "description = CASE WHEN true THEN 'updated' ELSE description END, "
                     "completed = COALESCE(NULL::boolean, completed), updated_at = now(), revision = revision + 1 "
                     f"WHERE id = :id AND user_id = :uid AND {OWNER_LOCKED}{ANY_REVISION} RETURNING {COLS};\n",
    "create": PICK + "WITH owner AS (INSERT INTO users (id, email, created_at, task_count) VALUES (:uid, NULL, now(), 1) "
                     "ON CONFLICT (id) DO UPDATE SET task_count = users.task_count + 1, "
                     "email = COALESCE(excluded.email, users.email) WHERE users.task_count < 10000 RETURNING id) "
                     "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
                     "SELECT id, 'created by pgbench', 'by load', false, now(), now() FROM owner "
                     f"RETURNING {COLS};\n",
}
MIX = {"get": 50, "list": 20, "toggle": 15, "create": 10, "update": 5}


def pgbench(url, scenario, duration):
    """Transactions per second of the route's SQL, at the pool's concurrency, prepared."""
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, sql in PGBENCH.items():
            paths[name] = os.path.join(d, f"{name}.sql")
            with open(paths[name], "w") as f:
                f.write(sql)
        weights = MIX if scenario == "mixed" else {scenario: 1}
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(POOL), "-j", "2", "-T", str(duration)]
        for name, weight in weights.items():
            cmd += ["-f", f"{paths[name]}@{weight}"]
        out = sh(cmd + [url])
    return float(next(l for l in out.splitlines() if l.startswith("tps")).split("=")[1].split()[0])


def start_pgbouncer(work, pg_url):
    """A PgBouncer in transaction mode in front of pg_url's server, or None when it is not installed."""
    program = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if not program:
        log("pgbouncer not installed: the pooled path is not measured (apt-get install pgbouncer)")
        return None
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    upstream = host_port.rsplit(":", 1)[1] if ":" in host_port else "5432"
    d = os.path.join(work, "pgbouncer")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    with open(os.path.join(d, "users.txt"), "w") as f:
        f.write('"postgres" ""\n')
    with open(os.path.join(d, "pgbouncer.ini"), "w") as f:
        f.write(f"[databases]\n* = host=127.0.0.1 port={upstream}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
                f"listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {d}/users.txt\n"
                f"pool_mode = transaction\nmax_client_conn = 2000\ndefault_pool_size = {POOL + 2}\n"
                f"logfile = {d}/log\npidfile = {d}/pid\n")
    cmd = [program]
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres", work], check=True)
        cmd += ["-u", "postgres"]
    bouncer = Server("pgbouncer", cmd + [os.path.join(d, "pgbouncer.ini")], {}, port, health=None)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return bouncer
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("pgbouncer did not start")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) // 1024 // 1024
    pg = sh(["psql", "--version"]).strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {platform.system()} {platform.release()}, {pg}"


# The load here is a few users at thousands of requests per second each: the
# per-user limit stays on (its cost is part of every number) but never refuses.
# bench/abuse.py measures it against no limit at all.
LIMITS_NEVER_REFUSING = {"RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000"}
# What every benchmarked todo-api runs with (the bench scripts add their own on top).
SERVER_ENV = {"BETTER_AUTH_SECRET": SECRET, "LOG_LEVEL": "warn", "DATABASE_MAX_CONNECTIONS": str(POOL),
              **LIMITS_NEVER_REFUSING}


def todo_api(binary, name, engine, pg, work, env=SERVER_ENV, pg_name="todo_bench_one"):
    """todo-api on a fresh database of `engine` (PostgreSQL's named `pg_name`), reset per scenario."""
    url, reset = engine_database(engine, pg, work, pg_name if engine == "postgres" else name)
    port = free_port()
    return Server(name, [binary, "serve"], {**env, "DATABASE_URL": url, "PORT": str(port)}, port, reset=reset)


def fastapi_venv():
    venv = os.path.expanduser("~/.cache/todo-api-bench-fastapi")
    if not os.path.exists(os.path.join(venv, "bin", "uvicorn")):
        log("installing the FastAPI baseline's requirements")
        sh([sys.executable, "-m", "venv", venv])
        sh([os.path.join(venv, "bin", "pip"), "install", "-q", "-r",
            os.path.join(SHARED, "reference", "fastapi", "requirements.txt")])
    return venv


def bulk_insert(engine, pg_url, sqlite_path, uid, n):
    """`n` tasks for `uid`, straight into the database; returns up to 200 of their ids."""
    if engine == "postgres":
        psql(pg_url, f"INSERT INTO users (id, email, created_at) VALUES ('{uid}', NULL, now()) ON CONFLICT DO NOTHING; "
                     f"INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
                     f"SELECT '{uid}', 'bulk ' || g, NULL, false, now(), now() FROM generate_series(1, {n}) g; "
                     f"{RECOUNT} WHERE id = '{uid}'; ANALYZE tasks;")
        return [int(x) for x in psql(pg_url, f"SELECT id FROM tasks WHERE user_id = '{uid}' ORDER BY id LIMIT 200").split()]
    import sqlite3
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    db = sqlite3.connect(sqlite_path, timeout=30)
    db.execute("INSERT OR IGNORE INTO users (id, email, created_at) VALUES (?, NULL, ?)", (uid, ts))
    db.executemany("INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
                   "VALUES (?, ?, NULL, 0, ?, ?)", [(uid, f"bulk {g}", ts, ts) for g in range(1, n + 1)])
    db.execute(f"{RECOUNT} WHERE id = ?", (uid,))  # the quota counter is the list's total
    db.commit()
    ids = [r[0] for r in db.execute("SELECT id FROM tasks WHERE user_id = ? ORDER BY id LIMIT 200", (uid,))]
    db.close()
    return ids


def scale(pg_url, sqlite_path, servers, duration):
    """Latency as one user's task count grows, and get latency in a 1M-task table."""
    results = []
    for server in servers.values():
        server.reset = None  # the bulk rows must stay
    for engine, server in servers.items():
        for n in [10, 1000, 10000]:
            uid = f"scale-{n}"
            ids = bulk_insert(engine, pg_url, sqlite_path, uid, n)
            rows = [[uid, todo_bench.token(uid, SECRET, ttl=24 * 3600), ids]]
            for scenario in ["get", "list"]:
                r = measure(server, rows, scenario, 8, duration)
                results.append({"engine": engine, "tasks_per_user": n, "total_tasks": None, "scenario": scenario, **r})
                log(f"scale {engine} {n} {scenario}: p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms")
    # 1,000,000 tasks across 10,000 users (100 each), on PostgreSQL.
    psql(pg_url, "INSERT INTO users (id, email, created_at) SELECT 'm' || u, NULL, now() "
                 "FROM generate_series(1, 10000) u ON CONFLICT DO NOTHING; "
                 "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
                 "SELECT 'm' || (g % 10000 + 1), 'bulk ' || g, NULL, false, now(), now() "
                 "FROM generate_series(1, 1000000) g; ANALYZE tasks;")
    total = int(psql(pg_url, "SELECT count(*) FROM tasks"))
    rows = []
    for u in range(1, 51):
        uid = f"m{u * 200}"
        ids = [int(x) for x in psql(pg_url, f"SELECT id FROM tasks WHERE user_id = '{uid}' LIMIT 20").split()]
        rows.append([uid, todo_bench.token(uid, SECRET, ttl=24 * 3600), ids])
    r = measure(servers["postgres"], rows, "get", 8, duration)
    results.append({"engine": "postgres", "tasks_per_user": 100, "total_tasks": total, "scenario": "get", **r})
    log(f"scale postgres {total} total get: p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
                    help="a PostgreSQL URL whose server the benchmark may create databases on")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--connections", default="64,1000")
    ap.add_argument("--quick", action="store_true", help="3 s per point, no soak, no 1M-row scale test")
    ap.add_argument("--no-baseline", action="store_true", help="skip the FastAPI baseline")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    a = ap.parse_args()
    duration = 3 if a.quick else a.duration
    conns = [int(c) for c in a.connections.split(",")]

    for tool in ["wrk", "pgbench", "psql"]:
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} not found (apt-get install wrk postgresql-client)")
    log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--bin", "todo-api", "--example", "ceiling", "--example", "anchor"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    ceiling_bin = os.path.join(target, "release", "examples", "ceiling")
    anchor_bin = os.path.join(target, "release", "examples", "anchor")

    work = tempfile.mkdtemp(prefix="todo-bench-")
    # Loopback needs no TLS; every client here (todo-api, pgbench, the baseline) goes without it.
    pg_url = fresh_pg_db(a.pg, "todo_bench") + "?sslmode=disable"
    sqlite_path = os.path.join(work, "bench.db")
    base_env = SERVER_ENV

    servers, results = {}, []
    try:
        for engine, url, reset_fn in [("sqlite", f"sqlite:{sqlite_path}", reset_sqlite(sqlite_path)),
                                      ("postgres", pg_url, reset_pg(pg_url))]:
            port = free_port()
            servers[engine] = Server(f"todo-api-{engine}", [binary, "serve"],
                                     {**base_env, "DATABASE_URL": url, "PORT": str(port)}, port, reset=reset_fn)
        rows = {engine: seed(s.base) for engine, s in servers.items()}
        log("seeded", {k: len(v) for k, v in rows.items()})

        # Ceilings, measured before the tables grow.
        ceiling_port = free_port()
        ceiling = Server("ceiling", [ceiling_bin, str(ceiling_port), SECRET], {}, ceiling_port, health=None)
        time.sleep(0.5)
        h, p = {}, {}
        for scenario in SCENARIOS:
            for c in conns:
                h[(scenario, c)] = measure(ceiling, rows["postgres"], scenario, c, duration)["rps"]
            p[scenario] = pgbench(pg_url, scenario, duration)
            reset_pg(pg_url)()
            psql(pg_url, "VACUUM ANALYZE tasks")
            log(f"ceiling {scenario}: H {[h[(scenario, c)] for c in conns]} rps, P {p[scenario]} tps")
        ceiling.stop()

        # The pooled path: the same database and rows, through PgBouncer in transaction mode.
        bouncer = start_pgbouncer(work, pg_url)
        if bouncer:
            port = free_port()
            pooled_url = f"postgres://postgres@127.0.0.1:{bouncer.port}/todo_bench?pooler=transaction"
            servers["postgres-pooled"] = Server("todo-api-pooled", [binary, "serve"],
                                                {**base_env, "DATABASE_URL": pooled_url, "PORT": str(port)}, port,
                                                reset=reset_pg(pg_url))
            rows["postgres-pooled"] = rows["postgres"]

        for engine, server in servers.items():
            for scenario in SCENARIOS:
                for c in conns:
                    r = measure(server, rows[engine], scenario, c, duration)
                    results.append({"server": "todo-api", "engine": engine, "scenario": scenario, "connections": c, **r})
                    log(f"todo-api {engine} {scenario} c={c}: {r['rps']} rps p99 {r['p99_ms']} ms "
                        f"errors {r['errors']} rss {r['peak_rss_mib']} MiB")

        if "postgres-pooled" in servers:
            servers.pop("postgres-pooled").stop()
            bouncer.stop()
        anchor_port = free_port()
        anchor = Server("anchor", [anchor_bin, str(anchor_port), pg_url], {}, anchor_port)
        for c in conns:
            r = measure(anchor, rows["postgres"], "get", c, duration)
            results.append({"server": "anchor", "engine": "postgres", "scenario": "get", "connections": c, **r})
            log(f"anchor get c={c}: {r['rps']} rps p99 {r['p99_ms']} ms errors {r['errors']}")
        anchor.stop()

        if not a.no_baseline:
            ref_url = fresh_pg_db(a.pg, "todo_bench_fastapi") + "?sslmode=disable"
            venv = fastapi_venv()

            def start_ref(workers=2):
                port = free_port()
                return Server("fastapi", [os.path.join(venv, "bin", "uvicorn"), "app:app", "--host", "127.0.0.1",
                                          "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                              {"DATABASE_URL": ref_url.replace("postgres://", "postgresql+psycopg://"),
                               "BETTER_AUTH_SECRET": SECRET}, port, health="/docs",
                              cwd=os.path.join(SHARED, "reference", "fastapi"), reset=reset_pg(ref_url, recount=False))

            # One worker first: two would race to create the tables on a fresh database.
            ref = start_ref(workers=1)
            ref_rows = seed(ref.base)
            ref.stop()
            # Each point on a fresh baseline process: at 1000 connections it can wedge,
            # and that must not poison the points after it.
            for c in conns:
                for scenario in SCENARIOS:
                    ref = start_ref()
                    r = measure(ref, ref_rows, scenario, c, duration)
                    ref.stop()
                    results.append({"server": "fastapi", "engine": "postgres", "scenario": scenario, "connections": c, **r})
                    log(f"fastapi {scenario} c={c}: {r['rps']} rps p99 {r['p99_ms']} ms errors {r['errors']}")

        scale_results = scale(pg_url, sqlite_path, servers, duration) if not a.quick else []

        soak = None
        if not a.quick:
            soak = measure(servers["postgres"], rows["postgres"], "mixed", 1000, 60)
            log(f"soak: {soak}")
    finally:
        for s in servers.values():
            s.stop()

    report = {"machine": machine(), "date": datetime.date.today().isoformat(), "duration": duration,
              "connections": conns, "results": results, "h": {f"{k[0]}@{k[1]}": v for k, v in h.items()}, "p": p,
              "scale": scale_results, "soak": soak, "quick": a.quick}
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report as rep
    rep.write(report, a.out)
    log(f"wrote {a.out} (raw results: {work}/results.json)")


if __name__ == "__main__":
    main()
