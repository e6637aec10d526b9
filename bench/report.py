"""Turns bench/run.py's results into docs/benchmarks.md and docs/benchmarks.svg."""
import os

SCENARIOS = ["get", "list", "toggle", "create", "update", "mixed"]
TARGET_FRACTION = {"get": 0.8, "mixed": 0.8, "list": 0.7, "create": 0.7, "toggle": 0.7, "update": 0.7}


def pick(results, server, engine, scenario, conns):
    for r in results:
        if (r["server"], r["engine"], r["scenario"], r["connections"]) == (server, engine, scenario, conns):
            return r
    return None


def ideal(h, p):
    return 1 / (1 / h + 1 / p)


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def svg_chart(report, path):
    """Throughput and p99 against connections, per scenario, todo-api on PostgreSQL and SQLite."""
    results, conns = report["results"], report["connections"]
    width, height, pad = 980, 420, 60
    panel_w = (width - 3 * pad) / 2
    colors = {"get": "#1f77b4", "list": "#ff7f0e", "toggle": "#2ca02c", "create": "#d62728",
              "update": "#9467bd", "mixed": "#8c564b"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>']

    def panel(x0, title, metric, unit):
        series = {}
        for engine, dash in [("postgres", ""), ("sqlite", "6,4")]:
            for s in SCENARIOS:
                pts = [(c, (pick(results, "todo-api", engine, s, c) or {}).get(metric)) for c in conns]
                series[(engine, s, dash)] = [(c, v) for c, v in pts if v is not None]
        top = max([v for pts in series.values() for _, v in pts] + [1]) * 1.1
        y0, y1 = height - pad, pad
        parts.append(f'<text x="{x0 + panel_w / 2}" y="{pad - 25}" text-anchor="middle" font-size="14">{title}</text>')
        parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + panel_w}" y2="{y0}" stroke="black"/>')
        parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black"/>')
        for i in range(5):
            v = top * i / 4
            y = y0 - (y0 - y1) * i / 4
            parts.append(f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{v:,.0f}</text>')
            parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + panel_w}" y2="{y}" stroke="#eee"/>')
        xs = {c: x0 + panel_w * (i + 0.5) / len(conns) for i, c in enumerate(conns)}
        for c, x in xs.items():
            parts.append(f'<text x="{x}" y="{y0 + 18}" text-anchor="middle">{c} connections</text>')
        parts.append(f'<text x="{x0 - 45}" y="{(y0 + y1) / 2}" transform="rotate(-90 {x0 - 45} {(y0 + y1) / 2})" '
                     f'text-anchor="middle">{unit}</text>')
        for (engine, s, dash), pts in series.items():
            if not pts:
                continue
            coords = " ".join(f"{xs[c]:.1f},{y0 - (y0 - y1) * v / top:.1f}" for c, v in pts)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colors[s]}" stroke-width="2" '
                         f'stroke-dasharray="{dash}"/>')
            for c, v in pts:
                parts.append(f'<circle cx="{xs[c]:.1f}" cy="{y0 - (y0 - y1) * v / top:.1f}" r="3" fill="{colors[s]}"/>')

    panel(pad, "Throughput (requests/s)", "rps", "requests/s")
    panel(2 * pad + panel_w, "p99 latency (ms)", "p99_ms", "ms")
    lx = pad
    for s in SCENARIOS:
        parts.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{colors[s]}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 12}">{s}</text>')
        lx += 80
    parts.append(f'<text x="{lx + 20}" y="{height - 12}">solid: PostgreSQL, dashed: SQLite</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


# The sections other bench scripts' runs measured (safe writes, realtime, abuse) are
# written by hand below this line; a new run.py report keeps them as they are.
KEPT = "<!-- Sections below: measured by the other bench scripts; bench/run.py keeps them. -->"


def kept_sections(out):
    try:
        with open(out) as f:
            text = f.read()
    except FileNotFoundError:
        return ""
    at = text.find(KEPT)
    return "" if at < 0 else "\n" + text[at:]


def write(report, out):
    results, conns, h, p = report["results"], report["connections"], report["h"], report["p"]
    lines = ["# Benchmarks", "",
             f"Measured {report['date']} on {report['machine']}. "
             f"{report['duration']} s per point; server, load generator and databases share the 2 cores.",
             "", "Reproduce (about 25 minutes; needs `wrk`, `pgbench`, `psql` and the PostgreSQL of docs/testing.md):",
             "", "```sh", "python3 bench/run.py", "```", "",
             "![throughput and p99 against connections](benchmarks.svg)", ""]
    if report.get("quick"):
        lines += ["> **Quick run** (`--quick`): 3 s points, no scale or soak test; numbers are indicative only.", ""]

    lines += ["## Throughput and latency", "",
              "requests/s (p50 / p99 ms) per scenario; `pg` and `sqlite` are todo-api on each engine, "
              "`fastapi` is the original design's stack (`../shared/reference/fastapi`, 2 uvicorn workers) "
              "on the same PostgreSQL. Errors are non-2xx responses plus socket errors; RSS is todo-api's peak.", "",
              "| scenario | conns | pg | sqlite | fastapi | pg / fastapi | errors (pg, sqlite) | peak RSS MiB (pg) |",
              "|---|---:|---|---|---|---:|---|---:|"]
    for s in SCENARIOS:
        for c in conns:
            pg, sq, fa = (pick(results, "todo-api", "postgres", s, c), pick(results, "todo-api", "sqlite", s, c),
                          pick(results, "fastapi", "postgres", s, c))
            cell = lambda r: ("—" if r is None else "collapsed (no request completed)" if not r["rps"]
                              else f"{fmt(r['rps'])} ({r['p50_ms']:.2f} / {r['p99_ms']:.2f})")
            ratio = f"{pg['rps'] / fa['rps']:.1f}×" if pg and fa and fa["rps"] else "—"
            errs = f"{pg['errors'] if pg else '—'}, {sq['errors'] if sq else '—'}"
            lines.append(f"| {s} | {c} | {cell(pg)} | {cell(sq)} | {cell(fa)} | {ratio} | {errs} | "
                         f"{pg['peak_rss_mib'] if pg else '—'} |")

    lines += ["", "## Native drivers: the anchor and the pooled path", "",
              "`pg` is todo-api on PostgreSQL directly (statements prepared per connection), `pooled` the same "
              "database through PgBouncer 1.18 in transaction mode (`DATABASE_POOLER=transaction`: unnamed "
              "statements), `anchor` the fastest one-row-by-id server this hardware allows (`bench/anchor.rs`: "
              "axum + tokio-postgres, one pipelined connection per core, no auth). H is the ceiling below.", "",
              "| scenario | conns | pg | pooled | pooled / pg | anchor | pg / anchor | sqlite / H |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in SCENARIOS:
        for c in conns:
            pg, po, an, sq = (pick(results, "todo-api", "postgres", s, c),
                              pick(results, "todo-api", "postgres-pooled", s, c),
                              pick(results, "anchor", "postgres", s, c), pick(results, "todo-api", "sqlite", s, c))
            hv = h.get(f"{s}@{c}")
            ratio = lambda x, y: f"{x['rps'] / y['rps']:.2f}" if x and y and y["rps"] else "—"
            lines.append(f"| {s} | {c} | {fmt(pg and pg['rps'])} | {fmt(po and po['rps'])} | {ratio(po, pg)} | "
                         f"{fmt(an and an['rps'])} | {ratio(pg, an)} | "
                         f"{ratio(sq, {'rps': hv}) if hv else '—'} |")

    lines += ["", "## Against the ceiling (PostgreSQL)", "",
              "H: the same HTTP stack answering the JWT-verified request without the database "
              "(`bench/ceiling.rs`). P: `pgbench -M prepared` running the route's SQL "
              f"(`bench/run.py`, `PGBENCH`) with {10} clients, the pool's size. On 2 shared cores the costs add, "
              "so the ideal is 1/(1/H + 1/P).", "",
              "| scenario | conns | H rps | P tps | ideal | todo-api (pg) | fraction | target |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in SCENARIOS:
        for c in conns:
            hv, pv, pg = h.get(f"{s}@{c}"), p.get(s), pick(results, "todo-api", "postgres", s, c)
            if not (hv and pv and pg):
                continue
            i = ideal(hv, pv)
            lines.append(f"| {s} | {c} | {fmt(hv)} | {fmt(pv)} | {fmt(i)} | {fmt(pg['rps'])} | "
                         f"{pg['rps'] / i:.2f} | ≥ {TARGET_FRACTION[s]} |")

    if report.get("scale"):
        lines += ["", "## Scale", "",
                  "8 connections against one user (or, last row, 50 users in a table of about 1,000,000 tasks "
                  "across 10,000 users). `list` returns every task of the user, unpaged, as frontends call it.", "",
                  "| engine | tasks of the user | tasks in the table | scenario | requests/s | p50 ms | p99 ms |",
                  "|---|---:|---:|---|---:|---:|---:|"]
        for r in report["scale"]:
            lines.append(f"| {r['engine']} | {fmt(r['tasks_per_user'])} | {fmt(r['total_tasks'])} | {r['scenario']} | "
                         f"{fmt(r['rps'])} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")

    if report.get("soak"):
        s = report["soak"]
        lines += ["", "## Soak", "",
                  f"1000 keep-alive connections, mixed scenario, 60 s, PostgreSQL: {fmt(s['rps'])} requests/s, "
                  f"p99 {s['p99_ms']:.2f} ms, {s['errors']} errors, peak RSS {s['peak_rss_mib']} MiB."]

    lines += ["", "## Targets", ""] + targets(report) + [""]
    kept = kept_sections(out)  # before opening for writing empties the file
    with open(out, "w") as f:
        f.write("\n".join(lines) + kept)
    svg_chart(report, os.path.join(os.path.dirname(out), "benchmarks.svg"))


def targets(report):
    results, conns, h, p = report["results"], report["connections"], report["h"], report["p"]
    out = []
    c = min(conns)
    for s in SCENARIOS:
        pg, hv, pv = pick(results, "todo-api", "postgres", s, c), h.get(f"{s}@{c}"), p.get(s)
        if pg and hv and pv:
            f = pg["rps"] / ideal(hv, pv)
            out.append(f"- {s} at {c} connections: {f:.2f} of ideal (target ≥ {TARGET_FRACTION[s]}): "
                       f"{'met' if f >= TARGET_FRACTION[s] else 'NOT met'}")
    ratios = []
    for s in SCENARIOS:
        for cc in conns:
            pg, fa = pick(results, "todo-api", "postgres", s, cc), pick(results, "fastapi", "postgres", s, cc)
            if pg and fa and fa["rps"]:
                ratios.append((pg["rps"] / fa["rps"], s, cc))
    if ratios:
        worst = min(ratios)
        out.append(f"- vs FastAPI: lowest ratio {worst[0]:.1f}× ({worst[1]}, {worst[2]} connections), target ≥ 30×: "
                   f"{'met' if worst[0] >= 30 else 'NOT met'}")
    for s in ["get", "mixed"]:
        pg = pick(results, "todo-api", "postgres", s, c)
        if pg:
            out.append(f"- p99 {s} at {c} connections: {pg['p99_ms']:.2f} ms (target ≤ 10): "
                       f"{'met' if pg['p99_ms'] <= 10 else 'NOT met'}")
    if report.get("soak"):
        s = report["soak"]
        ok = s["errors"] == 0 and s["peak_rss_mib"] <= 50
        out.append(f"- 1000 connections for 60 s: {s['errors']} errors, peak RSS {s['peak_rss_mib']} MiB "
                   f"(target 0 and ≤ 50): {'met' if ok else 'NOT met'}")
    for s in ["get", "list"]:
        pg, sq = pick(results, "todo-api", "postgres", s, c), pick(results, "todo-api", "sqlite", s, c)
        if pg and sq:
            out.append(f"- SQLite {s} {fmt(sq['rps'])} vs PostgreSQL {fmt(pg['rps'])} rps (target: SQLite ≥ PostgreSQL): "
                       f"{'met' if sq['rps'] >= pg['rps'] else 'NOT met'}")
    return out
