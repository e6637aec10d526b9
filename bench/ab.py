#!/usr/bin/env python3
"""Two todo-api binaries side by side, in one sitting: the same scenarios on a fresh
database each, alternating which goes first in each round, medians over the rounds.

    python3 bench/ab.py --baseline /path/to/old/todo-api [--engine postgres]
        [--scenarios toggle,create,update,mixed] [--duration 8] [--rounds 2] [--connections 64]

For a change whose cost is in the database (a migration, a statement): build the
baseline from the commit before, pass it here. Prints one JSON line per point and a
Markdown table with the change's ratio.
"""
import argparse, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, fresh databases, seeding, wrk)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    ap.add_argument("--scenarios", default="toggle,create,update,mixed")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    builds = {"this": os.path.join(target, "release", "todo-api"), "baseline": a.baseline}
    work = run.tempfile.mkdtemp(prefix="todo-ab-")
    scenarios = a.scenarios.split(",")
    rps = {(b, s): [] for b in builds for s in scenarios}
    p99 = {(b, s): [] for b in builds for s in scenarios}
    for rnd in range(a.rounds):
        order = list(builds) if rnd % 2 == 0 else list(reversed(builds))
        for build in order:
            server = run.todo_api(builds[build], f"ab-{build}", a.engine, a.pg, work, pg_name="todo_bench_ab")
            try:
                rows = run.seed(server.base)
                for scenario in scenarios:
                    r = run.measure(server, rows, scenario, a.connections, a.duration)
                    assert r["errors"] == 0, r
                    rps[(build, scenario)].append(r["rps"])
                    p99[(build, scenario)].append(r["p99_ms"])
                    print(json.dumps({"build": build, "round": rnd, "scenario": scenario, **r}), flush=True)
            finally:
                server.stop()
    print(f"\n{a.engine}, {a.connections} connections, {a.duration} s points, medians of {a.rounds} rounds\n")
    print("| scenario | baseline rps | this rps | change | baseline p99 ms | this p99 ms |\n|---|---:|---:|---:|---:|---:|")
    for s in scenarios:
        base, this = statistics.median(rps[("baseline", s)]), statistics.median(rps[("this", s)])
        print(f"| {s} | {base:,.0f} | {this:,.0f} | {100 * (this / base - 1):+.1f}% | "
              f"{statistics.median(p99[('baseline', s)]):.2f} | {statistics.median(p99[('this', s)]):.2f} |")


if __name__ == "__main__":
    main()
