#!/usr/bin/env python3
"""Abuse resistance, measured: what the per-user rate limiter costs, and what a
flood of forged tokens costs everyone else.

    python3 bench/abuse.py                  # about 12 minutes; prints JSON lines and Markdown tables
    python3 bench/abuse.py --duration 4     # shorter points

1. Limiter cost: `get` and `mixed` at 64 connections (50 users, bench/run.py's seed) with
   the per-user limit off (RATE_LIMIT_PER_SECOND=0) and on at a rate nobody reaches
   (so it does all its work and refuses nothing), alternating off/on/on/off in one sitting.
2. Flood: a legitimate user runs `get` (16 connections) while 64 connections from the same
   address send either distinct forged EdDSA tokens (a real key's `kid`, a wrong
   signature: each costs a signature check unless refused first) or no token at all (the
   cheapest rejection). Legitimate throughput during each, with the failure limit on
   (the default) and off (AUTH_FAILURES_PER_MINUTE=0) for contrast.

Needs: wrk, openssl, a release build (cargo build --release), and for --engines postgres a
PostgreSQL at --pg (trust auth).
"""
import argparse, base64, json, os, random, re, statistics, subprocess, tempfile, threading, time, urllib.request

import run

FLOOD_TOKENS = 4000


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ed25519_jwks(work):
    """A JWK Set with one real Ed25519 public key (made by openssl)."""
    key = os.path.join(work, "ed25519.pem")
    run.sh(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key])
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "bench", "use": "sig",
                      "x": b64(der[-32:])}]}
    path = os.path.join(work, "jwks.json")
    with open(path, "w") as f:
        json.dump(jwks, f)
    return path


def forged_tokens(n):
    """Distinct EdDSA tokens naming the JWKS key, with signatures that do not verify."""
    header = b64(json.dumps({"alg": "EdDSA", "kid": "bench", "typ": "JWT"}).encode())
    tokens = []
    for i in range(n):
        claims = b64(json.dumps({"sub": f"flood-{i}", "exp": 4102444800, "iat": 1700000000}).encode())
        tokens.append(f"{header}.{claims}.{b64(random.randbytes(64))}")
    return tokens


FLOOD_LUA = """
local tokens = {%(tokens)s}
local i = 0
request = function()
  i = i + 1
  local t = tokens[(i %% #tokens) + 1]
  if t == "" then return wrk.format("GET", "/api/100000/tasks/1") end
  return wrk.format("GET", "/api/100000/tasks/1", {["Authorization"] = "Bearer " .. t})
end
"""


def flood(base, tokens, duration, stop):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(FLOOD_LUA % {"tokens": ",".join(f'"{t}"' for t in tokens)})
        path = f.name
    out = subprocess.run(["wrk", "-t", "1", "-c", "64", "-d", f"{duration + 2}s", "-s", path, base],
                         capture_output=True, text=True).stdout
    os.unlink(path)
    stop.append(out)


def with_flood(server, rows, tokens, duration):
    """Legitimate `get` throughput while the flood runs (started first, ended after)."""
    outs = []
    t = threading.Thread(target=flood, args=(server.base, tokens, duration, outs))
    t.start()
    time.sleep(1)
    r = run.todo_bench.run_wrk(server.base, rows, "get", duration, 16, 1)
    t.join()
    flood_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", outs[0]).group(1)) if outs else 0
    return {"legit_rps": r["rps"], "legit_p99_ms": r["p99_ms"], "legit_errors": r["non2xx"] + r["socket_errors"],
            "flood_rps": flood_rps}


def verifications(server):
    text = urllib.request.urlopen(server.base + "/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith("todo_api_token_verifications_total "):
            return int(float(line.split()[1]))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--rounds", type=int, default=2, help="off/on/on/off sequences per engine (the machine is noisy)")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = tempfile.mkdtemp(prefix="todo-abuse-")
    base_env = {"BETTER_AUTH_SECRET": run.SECRET, "LOG_LEVEL": "error", "DATABASE_MAX_CONNECTIONS": str(run.POOL)}
    limiter = {"off": {"RATE_LIMIT_PER_SECOND": "0"}, "on": run.LIMITS_NEVER_REFUSING}
    costs = []
    for engine in a.engines.split(","):
        for rnd, build in enumerate(["off", "on", "on", "off"] * a.rounds):
            server = run.todo_api(binary, f"abuse-{engine}-{rnd}", engine, a.pg, work, {**base_env, **limiter[build]},
                                  "todo_bench_abuse")
            try:
                rows = run.seed(server.base)
                for scenario in ["get", "mixed"]:
                    r = run.measure(server, rows, scenario, 64, a.duration)
                    costs.append({"engine": engine, "limiter": build, "round": rnd, "scenario": scenario, **r})
                    print(json.dumps(costs[-1]), flush=True)
            finally:
                server.stop()

    jwks = ed25519_jwks(work)
    forged = forged_tokens(FLOOD_TOKENS)
    floods = []
    for failure_limit in ["on (default)", "off"]:
        env = {**base_env, **run.LIMITS_NEVER_REFUSING, "JWKS_FILE": jwks}
        if failure_limit == "off":
            env["AUTH_FAILURES_PER_MINUTE"] = "0"
        server = run.todo_api(binary, f"abuse-flood-{len(floods)}", "sqlite", a.pg, work, env)
        try:
            rows = run.seed(server.base)
            for kind, tokens in [("no token", [""]), ("forged EdDSA", forged)]:
                before = verifications(server)
                r = with_flood(server, rows, tokens, a.duration)
                r.update({"failure_limit": failure_limit, "flood": kind,
                          "signature_checks": verifications(server) - before})
                floods.append(r)
                print(json.dumps(r), flush=True)
        finally:
            server.stop()
    report(costs, floods)


def report(costs, floods):
    print("\n| engine | scenario | limiter off (req/s) | limiter on (req/s) | cost (medians) |")
    print("|---|---|---|---|---|")
    for engine in sorted({c["engine"] for c in costs}):
        for scenario in ["get", "mixed"]:
            pick = lambda b: [c["rps"] for c in costs if (c["engine"], c["scenario"], c["limiter"]) == (engine, scenario, b)]
            off, on = pick("off"), pick("on")
            mo, mn = statistics.median(off), statistics.median(on)
            print(f"| {engine} | {scenario} | {' / '.join(f'{x:,.0f}' for x in off)} (median {mo:,.0f}) | "
                  f"{' / '.join(f'{x:,.0f}' for x in on)} (median {mn:,.0f}) | {(mn / mo - 1) * 100:+.1f}% |")
    print("\n| failure limit | flood (64 conns) | flood req/s | signature checks | legitimate get req/s | p99 ms |")
    print("|---|---|---|---|---|---|")
    for f in floods:
        print(f"| {f['failure_limit']} | {f['flood']} | {f['flood_rps']:,.0f} | {f['signature_checks']:,} | "
              f"{f['legit_rps']:,.0f} | {f['legit_p99_ms']:.1f} |")
    for limit in ["on (default)", "off"]:
        pair = {f["flood"]: f["legit_rps"] for f in floods if f["failure_limit"] == limit}
        if len(pair) == 2:
            print(f"\nfailure limit {limit}: legitimate throughput under forged / under no-token flood = "
                  f"{pair['forged EdDSA'] / pair['no token']:.2f}")


if __name__ == "__main__":
    main()
