#!/usr/bin/env python3
"""What retention's pruning does to writes on SQLite: a database holding `--old` change-log
rows past retention (logged at Unix time 0), 64 connections toggling for `--duration`
seconds; the background pruner runs a minute after start, in the middle of the load.

    python3 bench/prune_stall.py [--binary B] [--baseline OLD_BINARY] [--old 300000] [--duration 75]

Seeds through a first server (bench/run.py's 50 users x 20 tasks), adds the old rows
offline (negative numbers, so they never collide with the owners' own), then serves the
load with each binary in turn. Prints wrk's latency line (mean, stdev, max), requests/s,
p50/p99, and how many old rows were left at the end.
"""
import argparse, os, re, sqlite3, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, seeding, wrk's script)


def one(binary, old, duration):
    work = run.tempfile.mkdtemp(prefix="prune-")
    path = os.path.join(work, "prune.db")
    env = {**run.SERVER_ENV, "DATABASE_URL": f"sqlite:{path}"}
    port = run.free_port()
    server = run.Server("prune-seed", [binary, "serve"], {**env, "PORT": str(port)}, port)
    rows = run.seed(server.base)
    server.stop()
    db = sqlite3.connect(path)
    per = old // len(rows)
    db.executemany(
        "INSERT INTO task_changes (user_id, seq, kind, task_id, title, description, completed, created_at, "
        "updated_at, revision, logged_at) VALUES (?, ?, 'updated', 1, 'old', NULL, 0, "
        "'2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z', 1, 0)",
        [(uid, -i) for uid, _, _ in rows for i in range(1, per + 1)])
    db.commit()
    db.close()
    port = run.free_port()
    server = run.Server("prune", [binary, "serve"], {**env, "PORT": str(port)}, port)
    script = os.path.join(work, "toggle.lua")
    with open(script, "w") as f:
        f.write(run.todo_bench.LUA % {"users": run.todo_bench.lua_users(rows), "scenario": "toggle"})
    try:
        out = subprocess.run(["wrk", "-t", "2", "-c", "64", "-d", f"{duration}s", "--latency", "-s", script,
                              server.base], capture_output=True, text=True).stdout
    finally:
        server.stop()
    left = sqlite3.connect(path).execute("SELECT COUNT(*) FROM task_changes WHERE logged_at = 0").fetchone()[0]
    return {"latency": re.search(r"Latency\s+(.*)", out).group(1).split(),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            **{f"p{k}": v for k, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}, "old_left": left}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "todo-api"))
    ap.add_argument("--baseline")
    ap.add_argument("--old", type=int, default=300_000)
    ap.add_argument("--duration", type=int, default=75)
    a = ap.parse_args()
    for name, binary in [("this", a.binary)] + ([("baseline", a.baseline)] if a.baseline else []):
        r = one(binary, a.old, a.duration)
        mean, stdev, most = r["latency"][:3]
        print(f"{name}: {r['rps']:,.0f} rps, p50 {r['p50']}, p99 {r['p99']}, max {most} "
              f"(mean {mean}, stdev {stdev}), old rows left {r['old_left']:,}", flush=True)


if __name__ == "__main__":
    main()
