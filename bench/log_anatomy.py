#!/usr/bin/env python3
"""Where the change log's write cost goes, without HTTP: single-row updates (the toggle's
SQL) on the real schema (migrations/), with the log's trigger taken apart piece by piece.

    python3 bench/log_anatomy.py sqlite       # Python's sqlite3, a tight loop, 16 updates per transaction
    python3 bench/log_anatomy.py postgres     # pgbench, 16 clients, 10 s a point (needs pgbench, psql)

Variants (each on a fresh database, 50 owners x 200 tasks, run in turn, twice):
  sqlite:   none (no trigger), current, noop (an empty trigger), bare (the log row, no
            indexes), owner-index (the log row and its (owner, number) index)
  postgres: none, current, counter-only (the owner's counter, no log row), global-seq (the
            log row numbered from one sequence, no owner counter; BRIN on logged_at)
"""
import os, random, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLS = ("INSERT INTO task_changes (user_id, seq, kind, task_id, title, description, completed, "
        "created_at, updated_at, revision, logged_at) ")
OWNERS, TASKS = 50, 200


def migrations(engine):
    folder = os.path.join(ROOT, "migrations", engine)
    return [open(os.path.join(folder, f)).read() for f in sorted(os.listdir(folder))]


def sqlite_db(variant, work):
    import sqlite3
    db = sqlite3.connect(os.path.join(work, f"{variant}-{random.random()}.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for sql in migrations("sqlite"):
        db.executescript(sql)
    db.executemany("INSERT INTO users (id, created_at) VALUES (?, 'x')", [(str(u),) for u in range(OWNERS)])
    db.execute("BEGIN")
    db.executemany("INSERT INTO tasks (user_id, title, created_at, updated_at) VALUES (?, ?, 'x', 'x')",
                   [(str(u), f"task {i}") for u in range(OWNERS) for i in range(TASKS)])
    db.execute("COMMIT")
    retrigger = lambda body: db.executescript(
        f"DROP TRIGGER tasks_log_updated; CREATE TRIGGER tasks_log_updated AFTER UPDATE ON tasks BEGIN {body} END;")
    row = ("NEW.revision * 100000 + NEW.id, 'updated', NEW.id, NEW.title, NEW.description, NEW.completed, "
           "NEW.created_at, NEW.updated_at, NEW.revision, 5;")
    if variant == "none":
        db.execute("DROP TRIGGER tasks_log_updated")
    elif variant == "noop":
        retrigger("SELECT 1;")
    elif variant == "bare":
        db.executescript("DROP INDEX task_changes_logged; DROP INDEX task_changes_owner_seq;")
        retrigger(COLS + "SELECT NEW.user_id, " + row)
    elif variant == "owner-index":
        db.execute("DROP INDEX task_changes_logged")
        retrigger(COLS + "SELECT NEW.user_id, " + row)
    return db


def sqlite_point(variant, work, n=60000, batch=16):
    db = sqlite_db(variant, work)
    picks = [(u, u * TASKS + random.randint(1, TASKS)) for u in (random.randrange(OWNERS) for _ in range(n))]
    started = time.perf_counter()
    for i in range(0, n, batch):
        db.execute("BEGIN IMMEDIATE")
        for owner, task in picks[i:i + batch]:
            db.execute("UPDATE tasks SET completed = NOT completed, updated_at = 'y', revision = revision + 1 "
                       "WHERE id = ? AND user_id = ?", (task, str(owner)))
        db.execute("COMMIT")
    return n / (time.perf_counter() - started)


PG_FUNCTION = """CREATE OR REPLACE FUNCTION log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changed tasks%%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    %s
    RETURN NULL;
END $$"""


def postgres_point(variant, server):
    psql = lambda db, sql: subprocess.run(["psql", "-q", f"{server}/{db}", "-c", sql], check=True, capture_output=True)
    psql("postgres", "DROP DATABASE IF EXISTS todo_log_anatomy WITH (FORCE)")
    psql("postgres", "CREATE DATABASE todo_log_anatomy")
    for sql in migrations("postgres"):
        psql("todo_log_anatomy", sql)
    psql("todo_log_anatomy", f"INSERT INTO users (id, created_at) SELECT u::text, now() FROM generate_series(0, {OWNERS - 1}) u")
    psql("todo_log_anatomy", "INSERT INTO tasks (user_id, title, created_at, updated_at) SELECT u::text, 'task ' || i, "
                             f"now(), now() FROM generate_series(0, {OWNERS - 1}) u, generate_series(1, {TASKS}) i")
    if variant == "none":
        psql("todo_log_anatomy", "DROP TRIGGER tasks_change_log ON tasks")
    elif variant == "counter-only":
        psql("todo_log_anatomy", PG_FUNCTION % "UPDATE users SET change_seq = change_seq + 1 WHERE id = changed.user_id;")
    elif variant == "global-seq":
        psql("todo_log_anatomy", "DROP INDEX task_changes_logged; CREATE INDEX task_changes_logged ON task_changes "
                                 "USING brin (logged_at); CREATE SEQUENCE log_anatomy START 1000000")
        psql("todo_log_anatomy", PG_FUNCTION % (COLS + "VALUES (changed.user_id, nextval('log_anatomy'), 'updated', "
             "changed.id, changed.title, changed.description, changed.completed, changed.created_at, "
             "changed.updated_at, changed.revision, extract(epoch FROM now())::BIGINT);"))
    psql("todo_log_anatomy", "VACUUM ANALYZE")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(f"\\set u random(0, {OWNERS - 1})\n\\set id :u * {TASKS} + random(1, {TASKS})\n"
                     "UPDATE tasks SET completed = NOT completed, updated_at = now(), revision = revision + 1 "
                     "WHERE id = :id AND user_id = :u::text RETURNING id;\n")
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "16", "-j", "2", "-T", "10", "-f", script.name,
                          f"{server}/todo_log_anatomy"], check=True, capture_output=True, text=True).stdout
    os.unlink(script.name)
    return float(next(line for line in out.splitlines() if line.startswith("tps")).split()[2])


def main():
    engine = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
    work = tempfile.mkdtemp(prefix="todo-log-anatomy-")
    variants = (["none", "current", "noop", "bare", "owner-index"] if engine == "sqlite"
                else ["none", "current", "counter-only", "global-seq"])
    for _ in range(2):
        point = (lambda v: sqlite_point(v, work)) if engine == "sqlite" else (lambda v: postgres_point(v, server))
        print(" | ".join(f"{v} {point(v):,.0f}" for v in variants), flush=True)


if __name__ == "__main__":
    main()
