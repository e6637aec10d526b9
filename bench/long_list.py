#!/usr/bin/env python3
"""One user's long list, unpaged as frontends call it, on both engines: requests/s and
p50/p99 at a few connection counts, optionally beside a baseline binary in one sitting.

    python3 bench/long_list.py [--baseline /path/to/old/todo-api] [--tasks 1000,10000]
        [--connections 1,8] [--engines sqlite,postgres] [--duration 5] [--rounds 2]

The tasks are inserted straight into the database (bench/run.py's `bulk_insert`); each
server gets a fresh database. Prints one JSON line per point, then a Markdown table of
medians over the rounds (the servers' order reversed every other round).
"""
import argparse, json, os, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, fresh databases, wrk)

todo_bench = run.todo_bench


def points(binary, name, engine, pg, work, tasks, connections, duration):
    server = run.todo_api(binary, name, engine, pg, work, pg_name=f"todo_bench_{name}")
    server.reset = None  # the bulk rows must stay
    sqlite_path = os.path.join(work, f"{name}.db")
    pg_url = server.env["DATABASE_URL"]
    out = []
    try:
        for n in tasks:
            uid = f"long-{n}"
            ids = run.bulk_insert(engine, pg_url, sqlite_path, uid, n)
            rows = [[uid, todo_bench.token(uid, run.SECRET, ttl=3600), ids]]
            for conns in connections:
                r = run.measure(server, rows, "list", conns, duration)
                assert r["errors"] == 0, r
                out.append(((engine, n, conns), r))
    finally:
        server.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "todo-api"))
    ap.add_argument("--baseline")
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--tasks", default="1000,10000")
    ap.add_argument("--connections", default="1,8")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    binaries = {"new": a.binary, **({"baseline": a.baseline} if a.baseline else {})}
    tasks = [int(x) for x in a.tasks.split(",")]
    connections = [int(x) for x in a.connections.split(",")]
    results = {}
    for rnd in range(a.rounds):
        names = list(binaries) if rnd % 2 == 0 else list(reversed(binaries))
        for engine in a.engines.split(","):
            for name in names:
                with tempfile.TemporaryDirectory() as work:
                    for key, r in points(binaries[name], name, engine, a.pg, work, tasks, connections, a.duration):
                        results.setdefault((name, *key), []).append(r)
                        print(json.dumps({"server": name, "round": rnd, "engine": key[0], "tasks": key[1],
                                          "connections": key[2], "rps": r["rps"], "p50_ms": r["p50_ms"],
                                          "p99_ms": r["p99_ms"]}), flush=True)
    print("| server | engine | tasks | connections | requests/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (name, engine, n, conns), rs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], kv[0][0])):
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        print(f"| {name} | {engine} | {n:,} | {conns} | {med('rps'):,.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} |")


if __name__ == "__main__":
    main()
