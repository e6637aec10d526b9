#!/usr/bin/env python3
"""The request path against TechEmpower's axum-pg shape, in one sitting (issue #23).

    python3 bench/request_path.py [--baseline OLD_TODO_API_BINARY] [--duration 8] [--rounds 2]

Builds the release binaries, seeds one PostgreSQL database and one SQLite file through the
API (50 users x 20 tasks, as bench/run.py does), then measures, alternating the servers
round by round and reporting medians:
  - anchor /db (TechEmpower's own query on its `world` table, to hold the anchor to what
    axum-pg serves here), anchor get (bench/anchor.rs: axum-pg's shape: a current_thread
    runtime, listener and pipelined connection per core, on todo-api's row), todo-api get on
    PostgreSQL with HS256 tokens and with EdDSA tokens checked against a JWK Set (and the
    --baseline binary), todo-api get on SQLite, the ceiling H (bench/ceiling.rs: the stack without a database),
    todo-api mixed on PostgreSQL, all at 64 connections;
  - get with 2 connections, and each worker's open connections during it (/metrics);
  - peak RSS with 1,000 connections (mixed, PostgreSQL).
"""
import argparse, base64, json, os, re, statistics, subprocess, sys, tempfile, threading, time, urllib.request

import run
from run import todo_bench

ROOT = run.ROOT


def worker_connections(base):
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    return [int(float(v)) for v in re.findall(r'^todo_api_worker_connections_open\{worker="\d+"\} (\S+)', text, re.M)]


DB = "anchor /db (TechEmpower's query)"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def eddsa_rows(rows, work):
    """The same users and tasks, with EdDSA tokens signed by a fresh Ed25519 key (openssl), and
    the JWK Set that holds its public half: Better Auth's default token kind."""
    key = os.path.join(work, "ed25519.pem")
    run.sh(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key])
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    jwks = os.path.join(work, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "bench", "use": "sig",
                             "x": b64(der[-32:])}]}, f)
    header = b64(json.dumps({"alg": "EdDSA", "kid": "bench", "typ": "JWT"}).encode())
    now, signed, message = int(time.time()), [], os.path.join(work, "message")
    for uid, _, ids in rows:
        claims = b64(json.dumps({"sub": uid, "iat": now, "exp": now + 24 * 3600}).encode())
        with open(message, "wb") as f:
            f.write(f"{header}.{claims}".encode())
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", message], check=True,
                             capture_output=True).stdout
        signed.append([uid, f"{header}.{claims}.{b64(sig)}", ids])
    return signed, jwks


def wrk_url(url, conns, duration):
    """wrk on one plain URL (TechEmpower's /db takes no token), parsed as todo_bench parses its runs."""
    out = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{duration}s", "--latency", url],
                         capture_output=True, text=True).stdout
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p99_ms": todo_bench.parse_ms(p99),
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errs.groups())) if errs else 0),
            "peak_rss_mib": 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--baseline", help="another todo-api binary, measured beside this one")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--bin", "todo-api", "--example", "ceiling", "--example", "anchor"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = tempfile.mkdtemp(prefix="todo-path-")

    pg_url = run.fresh_pg_db(a.pg, "todo_path") + "?sslmode=disable"
    sqlite_url, sqlite_reset = run.engine_database("sqlite", a.pg, work, "path")
    env = run.SERVER_ENV

    def todo(name, engine, bin_path=binary, extra=None):
        url = pg_url if engine == "postgres" else sqlite_url
        port = run.free_port()
        reset = run.reset_pg(pg_url) if engine == "postgres" else sqlite_reset
        return run.Server(name, [bin_path, "serve"], {**env, **(extra or {}), "DATABASE_URL": url, "PORT": str(port)},
                          port, reset=reset)

    seeder = todo("seed-pg", "postgres")
    rows = run.seed(seeder.base)
    seeder.stop()
    seeder = todo("seed-sqlite", "sqlite")
    run.seed(seeder.base)
    seeder.stop()
    signed, jwks = eddsa_rows(rows, work)

    def anchor():
        port = run.free_port()
        return run.Server("anchor", [os.path.join(target, "release", "examples", "anchor"), str(port), pg_url], {},
                          port)

    def ceiling():
        port = run.free_port()
        return run.Server("ceiling", [os.path.join(target, "release", "examples", "ceiling"), str(port), run.SECRET],
                          {}, port, health=None)

    points = [(DB, anchor, "db", None), ("anchor get", anchor, "get", rows),
              ("todo-api get (PG)", lambda: todo("pg", "postgres"), "get", rows),
              ("todo-api get (PG, EdDSA)", lambda: todo("pg-eddsa", "postgres", extra={"JWKS_FILE": jwks}), "get",
               signed),
              ("todo-api get (SQLite)", lambda: todo("sqlite", "sqlite"), "get", rows),
              ("ceiling H get", ceiling, "get", rows), ("todo-api mixed (PG)", lambda: todo("pg", "postgres"), "mixed",
                                                         rows)]
    if a.baseline:
        points.insert(3, ("baseline get (PG)", lambda: todo("old", "postgres", a.baseline), "get", rows))
        points.append(("baseline mixed (PG)", lambda: todo("old", "postgres", a.baseline), "mixed", rows))
    results = {name: [] for name, _, _, _ in points}
    for r in range(a.rounds):
        for name, start, scenario, users in (points if r % 2 == 0 else list(reversed(points))):
            server = start()
            if name.startswith("ceiling"):
                time.sleep(1)
            try:
                if scenario == "db":
                    result = wrk_url(server.base + "/db", 64, a.duration)
                else:
                    result = run.measure(server, users, scenario, 64, a.duration)
            finally:
                server.stop()
            run.log(f"round {r} {name}: {result['rps']:.0f} rps p99 {result['p99_ms']} ms errors {result['errors']}")
            results[name].append(result)

    print(f"\n| point (64 connections, median of {a.rounds}) | rps | p99 ms | errors | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    med = {}
    for name, rs in results.items():
        med[name] = statistics.median(r["rps"] for r in rs)
        rss = max(r['peak_rss_mib'] for r in rs)
        print(f"| {name} | {med[name]:,.0f} | {statistics.median(r['p99_ms'] for r in rs):.2f} | "
              f"{sum(r['errors'] for r in rs)} | {rss if rss else '-'} |")
    anchor_rps, h = med["anchor get"], med["ceiling H get"]
    get = med["todo-api get (PG)"]
    print(f"\nget / anchor = {get / anchor_rps:.2f}; EdDSA get / anchor = "
          f"{med['todo-api get (PG, EdDSA)'] / anchor_rps:.2f}; anchor /db = "
          f"{med[DB] / 110000:.2f} of axum-pg's ~110k here")
    print(f"SQLite get / H = {med['todo-api get (SQLite)'] / h:.2f}")

    # Two keep-alive connections: are both workers busy?
    server = todo("pg", "postgres")
    try:
        seen = []
        sampler_done = threading.Event()

        def sample():
            while not sampler_done.wait(0.5):
                seen.append(worker_connections(server.base))
        t = threading.Thread(target=sample)
        t.start()
        r2 = run.measure(server, rows, "get", 2, a.duration)
        sampler_done.set()
        t.join()
        print(f"\nget at 2 connections: {r2['rps']:,.0f} rps; each worker's open connections while it ran "
              f"(the sampler's own scrape adds one): {sorted(set(map(tuple, seen)))}")
        r1000 = run.measure(server, rows, "mixed", 1000, a.duration)
        print(f"mixed at 1000 connections (PG): {r1000['rps']:,.0f} rps, p99 {r1000['p99_ms']} ms, "
              f"errors {r1000['errors']}, peak RSS {r1000['peak_rss_mib']} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
