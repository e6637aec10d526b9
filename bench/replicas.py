#!/usr/bin/env python3
"""Reads with and without a read replica (`DATABASE_READ_URL`), on a throwaway primary and
its streaming replica (initdb + pg_basebackup -R, loopback), in one sitting.

    python3 bench/replicas.py [--scenarios get,list] [--duration 8] [--rounds 2] [--connections 64]

Prints one JSON line per point, a Markdown table (with replica / primary only), then where
the tuples of a read load came from: pg_stat_user_tables (tasks and users) on both servers,
counted with no instance connected (a backend flushes its statistics when it ends).
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402  (bench/ab.py: two servers side by side)
import run  # noqa: E402  (bench/run.py: servers, seeding, wrk)

# The tables a task read reads (tasks, and users for the quota counter and the change number):
# the change log is left out, since its background pruning scans it on the primary whatever
# the reads do.
TUPLES = ("SELECT (COALESCE(SUM(seq_tup_read), 0) + COALESCE(SUM(idx_tup_fetch), 0))::bigint "
          "FROM pg_stat_user_tables WHERE relname IN ('tasks', 'users')")


def server_bin():
    versions = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int)
    if not versions:
        sys.exit("PostgreSQL's server programs are not installed")
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


def as_postgres(args):
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Cluster:
    def __init__(self, work, name, port):
        self.data, self.port, self.bin = os.path.join(work, name), port, server_bin()
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def start(self, extra=""):
        opts = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 {extra}"
        as_postgres([f"{self.bin}/pg_ctl", "-w", "-o", opts, "-l", self.data + ".log", "-D", self.data, "start"])

    def stop(self):
        as_postgres([f"{self.bin}/pg_ctl", "-m", "immediate", "-D", self.data, "stop"])


def replicated(work):
    primary = Cluster(work, "primary", run.free_port())
    as_postgres([f"{primary.bin}/initdb", "-U", "postgres", "--auth=trust", "--no-sync", "-D", primary.data])
    primary.start()
    replica = Cluster(work, "replica", run.free_port())
    as_postgres([f"{replica.bin}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-X", "stream", "-R", "-D", replica.data])
    replica.start()
    return primary, replica


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ab.point_args(ap, "get,list")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = tempfile.mkdtemp(prefix="todo-replicas-")
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
    primary, replica = replicated(work)
    reads = {"primary only": {}, "with replica": {"DATABASE_READ_URL": replica.url}}

    def start(name):
        port = run.free_port()
        env = {**run.SERVER_ENV, "DATABASE_URL": primary.url, "PORT": str(port), "LOG_LEVEL": "warn", **reads[name]}
        return run.Server(f"replicas-{name.replace(' ', '-')}", [binary, "serve"], env, port,
                          reset=run.reset_pg(primary.url))

    scenarios = a.scenarios.split(",")
    try:
        starters = {name: (lambda name=name: start(name)) for name in reads}
        medians = ab.side_by_side(starters, scenarios, a.duration, a.rounds, a.connections, seed="once")
        time.sleep(1)
        before = [int(run.psql(c.url, TUPLES)) for c in (primary, replica)]
        server = start("with replica")
        try:
            for scenario in scenarios:
                r = run.measure(server, run.seeded_rows(), scenario, a.connections, a.duration)
                assert r["errors"] == 0, r
        finally:
            server.stop()
        time.sleep(1)
        after = [int(run.psql(c.url, TUPLES)) for c in (primary, replica)]
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{a.connections} connections, {a.duration} s points, medians of {a.rounds} rounds\n")
    ab.table(medians, scenarios, "primary only", "with replica", "with / without",
             lambda alone, with_replica: f"{with_replica / alone:.2f}")
    on_primary, on_replica = after[0] - before[0], after[1] - before[1]
    share = on_replica / max(1, on_primary + on_replica)
    print(f"\nA {'+'.join(scenarios)} load with the replica: {on_replica:,} tuples read on the replica, "
          f"{on_primary:,} on the primary ({share:.0%} from the replica)")


if __name__ == "__main__":
    main()
