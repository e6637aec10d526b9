#!/usr/bin/env python3
"""`get` (and optionally other scenarios) direct and through PgBouncer in transaction
mode, on one database, in one sitting, alternating which goes first each round.

    python3 bench/pooled.py [--scenarios get,list] [--duration 8] [--rounds 2] [--connections 64]

The pooled server is given a URL that does not name the pooler, so it also shows the
runtime switch to unnamed statements (its log line is printed). Prints one JSON line per
point and a Markdown table with pooled / direct.
"""
import argparse, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402  (bench/ab.py: two servers side by side)
import run  # noqa: E402  (bench/run.py: servers, fresh databases, seeding, wrk, PgBouncer)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ab.point_args(ap, "get")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-pooled-")
    pg_url = run.fresh_pg_db(a.pg, "todo_bench_pooled") + "?sslmode=disable"
    bouncer = run.start_pgbouncer(work, pg_url)
    if not bouncer:
        sys.exit("pgbouncer is not installed")
    urls = {"direct": pg_url, "pooled": f"postgres://postgres@127.0.0.1:{bouncer.port}/todo_bench_pooled"}

    def start(path):
        port = run.free_port()
        env = {**run.SERVER_ENV, "DATABASE_URL": urls[path], "PORT": str(port), "LOG_LEVEL": "warn"}
        return run.Server(f"pooled-{path}", [binary, "serve"], env, port, reset=run.reset_pg(pg_url))

    scenarios = a.scenarios.split(",")
    try:
        starters = {path: (lambda path=path: start(path)) for path in urls}
        medians = ab.side_by_side(starters, scenarios, a.duration, a.rounds, a.connections, seed="once")
    finally:
        bouncer.stop()
    with open(os.path.join(run.tempfile.gettempdir(), "bench-pooled-pooled.log")) as log:
        print("".join(line for line in log if "pooler" in line).strip())
    print(f"\n{a.connections} connections, {a.duration} s points, medians of {a.rounds} rounds\n")
    ab.table(medians, scenarios, "direct", "pooled", "pooled / direct", lambda direct, pooled: f"{pooled / direct:.2f}")


if __name__ == "__main__":
    main()
