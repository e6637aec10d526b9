#!/usr/bin/env python3
"""Bulk actions over one user's list, on both engines: mark all (PATCH the collection)
and clear completed (DELETE ?completed=true), each over N tasks in one request.

    python3 bench/bulk.py [--tasks 1000] [--rounds 15] [--quota-tasks 10000]

Each round of "mark all" flips all N tasks (alternately true and false); each round of
"clear completed" deletes N completed tasks, which are created again (through the API, so
the quota and the change log are real) before the next round. Also times one action over
a whole default quota (`--quota-tasks`), against the request timeout. Prints one JSON line
per point and a Markdown table (docs/benchmarks.md quotes it).
"""
import argparse, concurrent.futures, json, os, statistics, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, fresh databases, tokens)

USER = "bulk-user"


def call(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = response.read()
    return (time.perf_counter() - started) * 1000, json.loads(payload) if payload else None


def fill(base, token, n, completed):
    """`n` tasks through the API, 8 at a time."""
    def one(i):
        call(base, token, "POST", f"/api/{USER}/tasks", {"title": f"task {i}", "completed": completed})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def point(engine, action, tasks, times):
    return {"engine": engine, "action": action, "tasks": tasks, "rounds": len(times),
            "p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 95), 2),
            "max_ms": round(max(times), 2)}


def bench_engine(binary, engine, pg, work, a):
    env = {**run.SERVER_ENV, "MAX_TASKS_PER_USER": str(max(a.tasks, a.quota_tasks))}
    server = run.todo_api(binary, f"bulk-{engine}", engine, pg, work, env=env, pg_name="todo_bench_bulk")
    token = run.todo_bench.token(USER, run.SECRET, ttl=24 * 3600)
    base, results = server.base, []
    try:
        fill(base, token, a.tasks, False)
        times = []
        for r in range(a.rounds):
            ms, body = call(base, token, "PATCH", f"/api/{USER}/tasks", {"completed": r % 2 == 0})
            assert body == {"updated": a.tasks}, body
            times.append(ms)
        results.append(point(engine, "mark all", a.tasks, times))
        call(base, token, "PATCH", f"/api/{USER}/tasks", {"completed": True})
        times = []
        for _ in range(a.rounds):
            ms, body = call(base, token, "DELETE", f"/api/{USER}/tasks?completed=true")
            assert body == {"deleted": a.tasks}, body
            times.append(ms)
            fill(base, token, a.tasks, True)
        results.append(point(engine, "clear completed", a.tasks, times))
        call(base, token, "DELETE", f"/api/{USER}/tasks?completed=true")
        if a.quota_tasks:
            fill(base, token, a.quota_tasks, False)
            mark_ms, body = call(base, token, "PATCH", f"/api/{USER}/tasks", {"completed": True})
            assert body == {"updated": a.quota_tasks}, body
            clear_ms, body = call(base, token, "DELETE", f"/api/{USER}/tasks?completed=true")
            assert body == {"deleted": a.quota_tasks}, body
            results.append(point(engine, "mark all (whole quota)", a.quota_tasks, [mark_ms]))
            results.append(point(engine, "clear completed (whole quota)", a.quota_tasks, [clear_ms]))
    finally:
        server.stop()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quota-tasks", type=int, default=10000)
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-bulk-")
    results = []
    for engine in ["sqlite", "postgres"]:
        for result in bench_engine(binary, engine, a.pg, work, a):
            print(json.dumps(result), flush=True)
            results.append(result)
    print("\n| engine | action | tasks | rounds | p50 ms | p95 ms | max ms |\n|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['engine']} | {r['action']} | {r['tasks']:,} | {r['rounds']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")


if __name__ == "__main__":
    main()
