#!/usr/bin/env python3
"""What bounds the change log's write cost through HTTP: this build's server, with its log
taken apart on the live database after seeding (the same binary, the same load, 64 connections).

    python3 bench/log_bounds.py [--duration 8] [--engines sqlite,postgres]

bench/log_anatomy.py asks the same question without HTTP; this asks it of the whole request.
Variants (each on a fresh database and server, in turn, two rounds in alternating order):
  none        the log's triggers dropped: what the write costs with no log at all
  current     the log as migrations/ make it
  bare        one log row per write and nothing else: no index, no owner's number
              (a constant), no owner counter; the least any log that is a row per change costs
  sqlite:   owner-index   the log row and its (owner, number) index, numbered as now, no logged_at index
  postgres: global-seq    the log row numbered from one sequence (no owner counter, no owner lock
                          held to commit), its primary key kept, BRIN on logged_at
--users N spreads the same load over N owners instead of bench/run.py's 50.
Prints a JSON line per point and a Markdown table of medians against `none`.
"""
import argparse, json, os, sqlite3, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: Server, seed, measure, engine_database)
from log_anatomy import COLS, PG_FUNCTION  # noqa: E402

SCENARIOS = ["create", "toggle", "update"]
ROW = "'{kind}', {r}.id, {r}.title, {r}.description, {r}.completed, {r}.created_at, {r}.updated_at, {r}.revision, 5"


def sqlite_triggers(number):
    """The three triggers with the owner's number computed by `number` (SQL over NEW/OLD)."""
    sql = ""
    for event, kind, r in [("INSERT", "created", "NEW"), ("UPDATE", "updated", "NEW"), ("DELETE", "deleted", "OLD")]:
        sql += (f"DROP TRIGGER tasks_log_{kind}; CREATE TRIGGER tasks_log_{kind} AFTER {event} ON tasks BEGIN "
                f"{COLS} SELECT {r}.user_id, {number.format(r=r)}, {ROW.format(kind=kind, r=r)}; END;")
    return sql


SQLITE = {
    "none": "DROP TRIGGER tasks_log_created; DROP TRIGGER tasks_log_updated; DROP TRIGGER tasks_log_deleted;",
    "current": "",
    "bare": "DROP INDEX task_changes_logged; DROP INDEX task_changes_owner_seq;" + sqlite_triggers("0"),
    "owner-index": "DROP INDEX task_changes_logged;" + sqlite_triggers(
        "COALESCE((SELECT MAX(seq) FROM task_changes WHERE user_id = {r}.user_id), 0) + 1"),
}
PG_ROW = (COLS + "VALUES (changed.user_id, nextval('log_bounds'), 'updated', changed.id, changed.title, "
          "changed.description, changed.completed, changed.created_at, changed.updated_at, changed.revision, 5);")
POSTGRES = {
    "none": "DROP TRIGGER tasks_change_log ON tasks",
    "current": "",
    "bare": "ALTER TABLE task_changes DROP CONSTRAINT task_changes_pkey; DROP INDEX task_changes_logged; "
            "CREATE SEQUENCE log_bounds; " + PG_FUNCTION % PG_ROW,
    "global-seq": "DROP INDEX task_changes_logged; CREATE INDEX task_changes_logged ON task_changes USING brin "
                  "(logged_at); CREATE SEQUENCE log_bounds START 1000000; " + PG_FUNCTION % PG_ROW,
}


def apply(engine, url, sql):
    if not sql:
        return
    if engine == "postgres":
        run.psql(url, sql)
    else:
        db = sqlite3.connect(url.removeprefix("sqlite:"), timeout=30)
        db.executescript(sql)
        db.close()


def point(binary, engine, variant, pg, work, tag, duration):
    server = run.todo_api(binary, f"bounds-{engine}-{tag}", engine, pg, work, pg_name="todo_bench_bounds")
    try:
        rows = run.seed(server.base)
        url = server.env["DATABASE_URL"]
        apply(engine, url.split("?")[0], (SQLITE if engine == "sqlite" else POSTGRES)[variant])
        out = []
        for scenario in SCENARIOS:
            r = run.measure(server, rows, scenario, 64, duration)
            out.append({"engine": engine, "variant": variant, "scenario": scenario, "rps": r["rps"],
                        "errors": r["errors"]})
            print(json.dumps(out[-1]), flush=True)
        return out
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--users", type=int, default=run.USERS,
                    help="owners the load spreads over (20 tasks each); more owners, fewer writes of one owner in flight")
    a = ap.parse_args()
    run.USERS, run.SEEDED = a.users, a.users * run.PER_USER
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-bounds-")
    results = []
    for engine in a.engines.split(","):
        variants = list(SQLITE if engine == "sqlite" else POSTGRES)
        for rnd in range(2):
            for variant in (variants if rnd == 0 else variants[::-1]):
                results += point(binary, engine, variant, a.pg, work, f"{variant}-{rnd}", a.duration)
    print("\n| engine | variant | create | toggle | update |\n|---|---|---:|---:|---:|")
    for engine in a.engines.split(","):
        median = lambda v, s: statistics.median(r["rps"] for r in results
                                                if (r["engine"], r["variant"], r["scenario"]) == (engine, v, s))
        for variant in (SQLITE if engine == "sqlite" else POSTGRES):
            cells = []
            for s in SCENARIOS:
                m, base = median(variant, s), median("none", s)
                cells.append(f"{m:,.0f}" + ("" if variant == "none" else f" ({(m / base - 1) * 100:+.1f}%)"))
            print(f"| {engine} | {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
