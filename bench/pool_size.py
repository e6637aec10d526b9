#!/usr/bin/env python3
"""The write scenarios at several DATABASE_MAX_CONNECTIONS, on PostgreSQL, in one sitting:
a fresh database per server, the sizes in the reverse order every other round, medians.

    python3 bench/pool_size.py [--sizes 10,20,40] [--duration 6] [--rounds 2]

What DATABASE_MAX_CONNECTIONS's default rests on (docs/benchmarks.md).
"""
import argparse, collections, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, fresh databases, seeding, wrk)

SCENARIOS = ["toggle", "create", "update", "mixed"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--sizes", default="10,20,40")
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-pool-size-")
    sizes = [int(n) for n in a.sizes.split(",")]
    rps, p99 = collections.defaultdict(list), collections.defaultdict(list)
    for rnd in range(a.rounds):
        for n in (sizes if rnd % 2 == 0 else list(reversed(sizes))):
            env = {**run.SERVER_ENV, "DATABASE_MAX_CONNECTIONS": str(n)}
            server = run.todo_api(binary, f"pool-{n}", "postgres", a.pg, work, env=env, pg_name="todo_bench_pool")
            try:
                rows = run.seed(server.base)
                for scenario in SCENARIOS:
                    r = run.measure(server, rows, scenario, 64, a.duration)
                    assert r["errors"] == 0, r
                    rps[(n, scenario)].append(r["rps"])
                    p99[(n, scenario)].append(r["p99_ms"])
                    print(json.dumps({"pool": n, "round": rnd, "scenario": scenario, **r}), flush=True)
            finally:
                server.stop()
    print("\n| scenario | " + " | ".join(f"{n} conns rps (p99 ms)" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for s in SCENARIOS:
        cells = [f"{statistics.median(rps[(n, s)]):,.0f} ({statistics.median(p99[(n, s)]):.1f})" for n in sizes]
        print(f"| {s} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
