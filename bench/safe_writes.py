#!/usr/bin/env python3
"""The cost of safe writes, in one sitting: create with and without an Idempotency-Key,
and the write scenarios now that every write advances a revision, on both engines.

    python3 bench/safe_writes.py [--duration 10] [--connections 64] [--rounds 1] [--engines sqlite,postgres]

Prints one JSON line per point and a Markdown table of each point's median over the rounds
(the order of the writes is reversed every other round; docs/benchmarks.md quotes it).
Reuses bench/run.py's servers, seeding and wrk driver (../shared/bench/todo_bench.py).
"""
import argparse, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: Server, seed, measure, resets)

todo_bench = run.todo_bench
# The shared driver's create, with a fresh key per request (unique per wrk thread and request).
KEYED_LUA = todo_bench.LUA.replace(
    "local counter = 0\n",
    "local counter = 0\nlocal prefix = tostring({}):sub(8) .. '-' .. tostring(os.clock()) .. '-' .. tostring(math.random(1e9))\n",
).replace(
    "    counter = counter + 1\n",
    "    counter = counter + 1\n    h[\"Idempotency-Key\"] = prefix .. '-' .. counter\n",
)
assert KEYED_LUA != todo_bench.LUA and "Idempotency-Key" in KEYED_LUA


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--engines", default="sqlite,postgres")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-safe-")
    pg_url = run.fresh_pg_db(a.pg, "todo_bench_safe") + "?sslmode=disable"
    sqlite_path = os.path.join(work, "bench.db")
    env = run.SERVER_ENV
    rows, results = {}, []
    writes = [("create", todo_bench.LUA, "create"), ("create + Idempotency-Key", KEYED_LUA, "create"),
              ("toggle", todo_bench.LUA, "toggle"), ("update", todo_bench.LUA, "update")]
    engines = [("sqlite", f"sqlite:{sqlite_path}", run.reset_sqlite(sqlite_path)),
               ("postgres", pg_url, run.reset_pg(pg_url))]
    for engine, url, reset in [e for e in engines if e[0] in a.engines.split(",")]:
        port = run.free_port()
        server = run.Server(f"safe-{engine}", [binary, "serve"], {**env, "DATABASE_URL": url, "PORT": str(port)},
                            port, reset=reset)
        points = {label: [] for label, _, _ in writes}
        try:
            rows = run.seed(server.base)
            for rnd in range(a.rounds):
                for label, lua, scenario in (writes if rnd % 2 == 0 else list(reversed(writes))):
                    plain, todo_bench.LUA = todo_bench.LUA, lua
                    try:
                        r = run.measure(server, rows, scenario, a.connections, a.duration)
                    finally:
                        todo_bench.LUA = plain
                    points[label].append(r)
                    print(json.dumps({"engine": engine, "label": label, "round": rnd, **r}), flush=True)
        finally:
            server.stop()
        for label, _, _ in writes:
            median = lambda key: statistics.median(r[key] for r in points[label])
            results.append({"engine": engine, "label": label, "rps": median("rps"), "p50_ms": median("p50_ms"),
                            "p99_ms": median("p99_ms"), "errors": sum(r["errors"] for r in points[label])})
    print("\n| engine | write | requests/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['engine']} | {r['label']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")


if __name__ == "__main__":
    main()
