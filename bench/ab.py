#!/usr/bin/env python3
"""Two todo-api binaries side by side, in one sitting: the same scenarios on a fresh
database each, alternating which goes first in each round, medians over the rounds.

    python3 bench/ab.py --baseline /path/to/old/todo-api [--engine postgres]
        [--scenarios toggle,create,update,mixed] [--duration 8] [--rounds 2] [--connections 64]

For a change whose cost is in the database (a migration, a statement): build the
baseline from the commit before, pass it here. Prints one JSON line per point and a
Markdown table with the change's ratio. `side_by_side` and `table` serve other scripts
that compare two servers the same way (bench/pooled.py).
"""
import argparse, itertools, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, fresh databases, seeding, wrk)


def side_by_side(starters, scenarios, duration, rounds, connections, seed=True):
    """`starters`: names (two or more), each with a function that starts its server (a `run.Server`).
    Each round starts them in turn (in reverse order every other round), seeds each through
    the API (once, when `seed` is "once": the servers share a database), runs every
    scenario, stops it. Returns {(name, scenario): (median rps, median p99 ms)}."""
    names = list(starters)
    rps = {(n, s): [] for n in names for s in scenarios}
    p99 = {(n, s): [] for n in names for s in scenarios}
    rows = None
    for rnd in range(rounds):
        for name in (names if rnd % 2 == 0 else list(reversed(names))):
            server = starters[name]()
            try:
                if rows is None or seed is True:
                    rows = run.seed(server.base)
                for scenario in scenarios:
                    r = run.measure(server, rows, scenario, connections, duration)
                    assert r["errors"] == 0, r
                    rps[(name, scenario)].append(r["rps"])
                    p99[(name, scenario)].append(r["p99_ms"])
                    print(json.dumps({"server": name, "round": rnd, "scenario": scenario, **r}), flush=True)
            finally:
                server.stop()
    return {key: (statistics.median(rps[key]), statistics.median(p99[key])) for key in rps}


def point_args(ap, scenarios):
    """The options every side-by-side script takes: which scenarios, and each point's shape."""
    ap.add_argument("--scenarios", default=scenarios)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)


def table(medians, scenarios, first, second, ratio_title, ratio):
    """Markdown: each scenario's medians for `first` and `second`, and `ratio(first_rps, second_rps)`."""
    print(f"| scenario | {first} rps | {second} rps | {ratio_title} | {first} p99 ms | {second} p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in scenarios:
        (a_rps, a_p99), (b_rps, b_p99) = medians[(first, s)], medians[(second, s)]
        print(f"| {s} | {a_rps:,.0f} | {b_rps:,.0f} | {ratio(a_rps, b_rps)} | {a_p99:.2f} | {b_p99:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    point_args(ap, "toggle,create,update,mixed")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    builds = {"baseline": a.baseline, "this": os.path.join(target, "release", "todo-api")}
    work = run.tempfile.mkdtemp(prefix="todo-ab-")
    started = itertools.count()  # a fresh SQLite file per server, as PostgreSQL gets a fresh database

    def starter(name, binary):
        return lambda: run.todo_api(binary, f"ab-{name}-{next(started)}", a.engine, a.pg, work, pg_name="todo_bench_ab")

    starters = {name: starter(name, binary) for name, binary in builds.items()}
    scenarios = a.scenarios.split(",")
    medians = side_by_side(starters, scenarios, a.duration, a.rounds, a.connections)
    print(f"\n{a.engine}, {a.connections} connections, {a.duration} s points, medians of {a.rounds} rounds\n")
    table(medians, scenarios, "baseline", "this", "change", lambda base, this: f"{100 * (this / base - 1):+.1f}%")


if __name__ == "__main__":
    main()
