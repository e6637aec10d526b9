#!/usr/bin/env python3
"""Realtime benchmark, in one sitting: what the change log costs each write, and how fast a
change reaches open streams (fan-out) while the mixed load runs.

    python3 bench/realtime.py --baseline /path/to/todo-api-without-the-log [--duration 10]

1. Write cost: create, toggle and update at 64 connections on each engine, with this build and
   with --baseline (the same server one commit before the change log), two rounds each,
   alternating, on fresh databases. Target: the log costs at most 15% of writes/s.
2. Fan-out: 1,000 open SSE streams (100 users x 10) held by an asyncio client, the mixed load
   (wrk, 64 connections, other users) running, and a probe writing 40 creates/s to the stream
   users; latency = probe request sent -> event received on each of the user's 10 streams.
   On SQLite (one instance), PostgreSQL (one instance) and PostgreSQL across two instances
   (streams on B; load and probes through A: the LISTEN/NOTIFY path). RSS of the server that
   holds the streams is sampled with all 1,000 open.

The latencies include the client's own scheduling (one Python process reading 1,000 sockets on
a 2-core machine that also runs wrk and the servers): an upper bound on the server's part.
Prints JSON lines and Markdown tables (docs/benchmarks.md quotes them).
"""
import argparse, asyncio, json, os, statistics, sys, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: Server, seed, measure, resets)

todo_bench = run.todo_bench
STREAM_USERS, STREAMS_PER_USER, STREAM_BASE = 100, 10, 300000
PROBE_RATE = 40


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


async def hold_stream(port, uid, token, sent, latencies, opened):
    """One SSE stream over a raw socket (chunked transfer decoding by hand, stdlib only)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/{uid}/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head[:200]
    opened.append(1)
    buffer = b""
    try:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            buffer += chunk[:-2]
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                now = time.monotonic()
                for line in block.split(b"\n"):
                    if line.startswith(b"data: ") and b"probe-" in line:
                        probe = json.loads(line[6:])["task"]["title"]
                        if probe in sent:
                            latencies.append((now - sent[probe]) * 1000)
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


def probe(base, stop, sent, write_ms):
    """Creates for the stream users at PROBE_RATE/s, round robin."""
    tokens = {u: todo_bench.token(str(STREAM_BASE + u), run.SECRET, ttl=3600) for u in range(STREAM_USERS)}
    n = 0
    while not stop.is_set():
        u = n % STREAM_USERS
        title = f"probe-{n}"
        started = time.monotonic()
        sent[title] = started
        todo_bench.call("POST", f"{base}/api/{STREAM_BASE + u}/tasks", tokens[u], {"title": title})
        write_ms.append((time.monotonic() - started) * 1000)
        n += 1
        time.sleep(max(0.0, 1 / PROBE_RATE - (time.monotonic() - started)))


def fan_out(label, writer, holder, rows, duration):
    """Streams on `holder`, mixed load and probes through `writer`."""
    sent, latencies, write_ms, opened = {}, [], [], []
    loop = asyncio.new_event_loop()
    tasks = []

    def streams():
        asyncio.set_event_loop(loop)
        for u in range(STREAM_USERS):
            uid = str(STREAM_BASE + u)
            token = todo_bench.token(uid, run.SECRET, ttl=3600)
            for _ in range(STREAMS_PER_USER):
                tasks.append(loop.create_task(hold_stream(holder.port, uid, token, sent, latencies, opened)))
        loop.run_forever()

    thread = threading.Thread(target=streams, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while len(opened) < STREAM_USERS * STREAMS_PER_USER and time.time() < deadline:
        time.sleep(0.1)
    assert len(opened) == STREAM_USERS * STREAMS_PER_USER, f"only {len(opened)} streams opened"
    time.sleep(1)
    rss_open = holder.rss_kib() / 1024
    stop = threading.Event()
    prober = threading.Thread(target=probe, args=(writer.base, stop, sent, write_ms))
    prober.start()
    load = run.measure(writer, rows, "mixed", 64, duration)
    stop.set()
    prober.join()
    time.sleep(1)
    rss_peak = holder.rss_kib() / 1024
    loop.call_soon_threadsafe(loop.stop)
    expected = len(write_ms) * STREAMS_PER_USER
    result = {"setup": label, "streams": len(opened), "probes": len(write_ms), "events": len(latencies),
              "expected_events": expected, "p50_ms": round(percentile(latencies, 50), 2),
              "p99_ms": round(percentile(latencies, 99), 2), "max_ms": round(max(latencies, default=0), 2),
              "probe_write_p50_ms": round(percentile(write_ms, 50), 2), "mixed_rps": load["rps"],
              "mixed_errors": load["errors"], "rss_streams_open_mib": round(rss_open, 1),
              "rss_after_mib": round(rss_peak, 1)}
    print(json.dumps(result), flush=True)
    return result


def write_cost(binaries, pg, work, duration, engines):
    results = []
    for rnd in range(2):
        order = list(binaries.items()) if rnd == 0 else list(reversed(binaries.items()))
        for build, binary in order:
            for engine in engines:
                server = run.todo_api(binary, f"rt-{build}-{engine}-{rnd}", engine, pg, work, pg_name="todo_bench_rt")
                try:
                    rows = run.seed(server.base)
                    for scenario in ["create", "toggle", "update"]:
                        r = run.measure(server, rows, scenario, 64, duration)
                        results.append({"build": build, "engine": engine, "round": rnd, "scenario": scenario, **r})
                        print(json.dumps(results[-1]), flush=True)
                finally:
                    server.stop()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--baseline", required=True, help="todo-api built from the commit before the change log")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-fan-out", action="store_true")
    ap.add_argument("--engines", default="sqlite,postgres", help="for the write cost")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(run.ROOT, "target"))
    binary = os.path.join(target, "release", "todo-api")
    work = run.tempfile.mkdtemp(prefix="todo-rt-")
    engines = a.engines.split(",")
    costs = [] if a.skip_cost else write_cost({"without log": a.baseline, "with log": binary}, a.pg, work, a.duration,
                                              engines)
    if a.skip_fan_out:
        report(costs, [], engines)
        return

    env = {**run.SERVER_ENV, "MAX_STREAMS": "5000", "MAX_STREAMS_PER_USER": "16"}
    fans = []
    sqlite_path = os.path.join(work, "fan.db")
    port = run.free_port()
    one = run.Server("rt-sqlite", [binary, "serve"], {**env, "DATABASE_URL": f"sqlite:{sqlite_path}", "PORT": str(port)},
                     port, reset=run.reset_sqlite(sqlite_path))
    try:
        fans.append(fan_out("sqlite, one instance", one, one, run.seed(one.base), a.duration))
    finally:
        one.stop()
    pg_url = run.fresh_pg_db(a.pg, "todo_bench_fan") + "?sslmode=disable"
    pa, pb = run.free_port(), run.free_port()
    first = run.Server("rt-pg-a", [binary, "serve"], {**env, "DATABASE_URL": pg_url, "PORT": str(pa)}, pa,
                       reset=run.reset_pg(pg_url))
    second = run.Server("rt-pg-b", [binary, "serve"], {**env, "DATABASE_URL": pg_url, "PORT": str(pb)}, pb)
    try:
        rows = run.seed(first.base)
        fans.append(fan_out("postgres, one instance", first, first, rows, a.duration))
        fans.append(fan_out("postgres, streams on B, writes through A", first, second, rows, a.duration))
    finally:
        first.stop()
        second.stop()

    report(costs, fans, engines)


def report(costs, fans, engines):
    if costs:
        print("\n| engine | scenario | writes/s without the log | with it | change |\n|---|---|---:|---:|---:|")
        for engine in engines:
            for scenario in ["create", "toggle", "update"]:
                def mean(build):
                    return statistics.mean(r["rps"] for r in costs
                                           if (r["build"], r["engine"], r["scenario"]) == (build, engine, scenario))
                base, new = mean("without log"), mean("with log")
                print(f"| {engine} | {scenario} | {base:,.0f} | {new:,.0f} | {100 * (new / base - 1):+.1f}% |")
    if not fans:
        return
    print("\n| setup | streams | events received / expected | fan-out p50 ms | p99 ms | max ms | probe write p50 ms "
          "| mixed rps meanwhile | RSS with streams open MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in fans:
        print(f"| {f['setup']} | {f['streams']} | {f['events']:,} / {f['expected_events']:,} | {f['p50_ms']} | "
              f"{f['p99_ms']} | {f['max_ms']} | {f['probe_write_p50_ms']} | {f['mixed_rps']:,.0f} | "
              f"{f['rss_streams_open_mib']} |")


if __name__ == "__main__":
    main()
