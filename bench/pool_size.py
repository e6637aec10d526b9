#!/usr/bin/env python3
"""The write scenarios at several DATABASE_MAX_CONNECTIONS, on PostgreSQL, in one sitting:
a fresh database per server, the sizes in the reverse order every other round, medians.

    python3 bench/pool_size.py [--sizes 10,20,40] [--duration 6] [--rounds 2]

What DATABASE_MAX_CONNECTIONS's default rests on (docs/benchmarks.md).
"""
import argparse, itertools, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402  (bench/ab.py: servers side by side)
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
    started = itertools.count()

    def starter(size):
        env = {**run.SERVER_ENV, "DATABASE_MAX_CONNECTIONS": str(size)}
        return lambda: run.todo_api(binary, f"pool-{size}-{next(started)}", "postgres", a.pg, work, env=env,
                                    pg_name="todo_bench_pool")

    sizes = [int(n) for n in a.sizes.split(",")]
    medians = ab.side_by_side({n: starter(n) for n in sizes}, SCENARIOS, a.duration, a.rounds, 64)
    print("\n| scenario | " + " | ".join(f"{n} conns rps (p99 ms)" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for s in SCENARIOS:
        print(f"| {s} | " + " | ".join(f"{medians[(n, s)][0]:,.0f} ({medians[(n, s)][1]:.1f})" for n in sizes) + " |")


if __name__ == "__main__":
    main()
