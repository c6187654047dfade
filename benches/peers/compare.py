#!/usr/bin/env python3
"""tally against DuckDB on the same NDJSON file, in one run, side by side.

    python3 benches/peers/compare.py FILE [--runs 3] [--tally target/release/tally]

What it measures, each in fresh processes, the median of --runs:

- ingest: `tally bench ingest --input FILE` (read, parse, de-duplicate,
  every preset window and sketch, until every shard has applied every event)
  against DuckDB's raw load, `CREATE TABLE events AS SELECT * FROM
  read_json(FILE)`. Lines per second, CPU seconds, whole-process peak RSS.
- memory: each process's peak RSS, and tally's per distinct user.
- queries: the anchor set (top 3 event types over 1 h and 24 h, one user's
  24 h for the hottest and a median user, the viral GROUP BY video_id over
  2 h, the same with a HAVING that skips no video, COUNT(DISTINCT user_id)
  and MEDIAN over 24 h), each run back to back
  on the loaded state: tally in its own process after the ingest, DuckDB on
  its table. DuckDB gets the window as a timestamp literal computed once,
  with tally's pane edges, so both count the same events; the exact answers
  are compared.

Installs DuckDB's Python package with pip when it is missing. Prints one
Markdown table with the ratios (higher is better for tally).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def ensure_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", "--quiet", "duckdb"],
            stdout=subprocess.DEVNULL,
        )


# The anchor queries: (name, tally SQL, DuckDB SQL). `{since_1h}` etc. are
# the first instants tally's windows count (pane edges: 1 s panes up to 1 h,
# 1 min beyond), `{hot}` and `{typical}` user ids.
QUERIES = [
    (
        "top3_1h",
        "SELECT TOP 3 event_type FROM events WINDOW 1h",
        "SELECT event_type, count(*) AS n FROM events WHERE timestamp >= {since_1h} "
        "GROUP BY event_type ORDER BY n DESC, event_type LIMIT 3",
    ),
    (
        "top3_24h",
        "SELECT TOP 3 event_type FROM events WINDOW 24h",
        "SELECT event_type, count(*) AS n FROM events WHERE timestamp >= {since_24h} "
        "GROUP BY event_type ORDER BY n DESC, event_type LIMIT 3",
    ),
    (
        "user_hot_24h",
        "SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos_watched, "
        "SUM(metadata.view_duration_ms) AS engagement_ms, COUNT(*) AS events "
        "FROM events WHERE user_id = {hot} WINDOW 24h",
        "SELECT count(*) FILTER (WHERE event_type = 'video_view'), "
        "sum(metadata.view_duration_ms), count(*) FROM events "
        "WHERE user_id = {hot} AND timestamp >= {since_24h}",
    ),
    (
        "user_typical_24h",
        "SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos_watched, "
        "SUM(metadata.view_duration_ms) AS engagement_ms, COUNT(*) AS events "
        "FROM events WHERE user_id = {typical} WINDOW 24h",
        "SELECT count(*) FILTER (WHERE event_type = 'video_view'), "
        "sum(metadata.view_duration_ms), count(*) FROM events "
        "WHERE user_id = {typical} AND timestamp >= {since_24h}",
    ),
    (
        "viral_2h",
        "SELECT video_id, COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, "
        "COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS sc "
        "FROM events GROUP BY video_id HAVING views >= {min_views} AND sc / views > 1.5 "
        "ORDER BY video_id WINDOW 2h",
        "SELECT video_id, count(*) FILTER (WHERE event_type = 'video_view') AS views, "
        "count(*) FILTER (WHERE event_type IN ('share', 'comment')) AS sc "
        "FROM events WHERE timestamp >= {since_2h} GROUP BY video_id "
        "HAVING views >= {min_views} AND sc / views > 1.5 ORDER BY video_id",
    ),
    (
        # The same fan-out with a HAVING no entity can be skipped by: every
        # video with a view in the window is read. tally skips the videos
        # that hold fewer events than `views >= n` needs without reading
        # them, so on a stream of many small videos viral_2h above costs
        # little more than a walk of the entity maps; this is what the
        # fan-out costs when nothing can be skipped.
        "viral_2h_every_video",
        "SELECT video_id, COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, "
        "COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS sc "
        "FROM events GROUP BY video_id HAVING views >= 1 AND sc / views > 1.5 "
        "ORDER BY video_id WINDOW 2h",
        "SELECT video_id, count(*) FILTER (WHERE event_type = 'video_view') AS views, "
        "count(*) FILTER (WHERE event_type IN ('share', 'comment')) AS sc "
        "FROM events WHERE timestamp >= {since_2h} GROUP BY video_id "
        "HAVING views >= 1 AND sc / views > 1.5 ORDER BY video_id",
    ),
    (
        "distinct_users_24h",
        "SELECT COUNT(DISTINCT user_id) FROM events WINDOW 24h",
        "SELECT approx_count_distinct(user_id) FROM events WHERE timestamp >= {since_24h}",
    ),
    (
        "median_24h",
        "SELECT MEDIAN(metadata.view_duration_ms) FROM events WINDOW 24h",
        "SELECT approx_quantile(metadata.view_duration_ms, 0.5) FROM events "
        "WHERE timestamp >= {since_24h}",
    ),
]

# Answers compared between the two: exact in both.
EXACT = {
    "top3_1h", "top3_24h", "user_hot_24h", "user_typical_24h", "viral_2h",
    "viral_2h_every_video",
}


def duckdb_child(path, runs_per_query, out_path):
    """Loads the file into DuckDB and times the queries; runs in its own process."""
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    c0 = time.process_time()
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_json(?, format='newline_delimited', "
        "ignore_errors=true)",
        [path],
    )
    load_s = time.perf_counter() - t
    load_cpu = time.process_time() - c0
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # The answers are checked on the events tally accepts: the first line
    # of each id (DuckDB's load keeps duplicates). Not timed.
    con.execute(
        "CREATE TABLE clean AS SELECT * FROM events "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY timestamp) = 1"
    )
    now_ms = con.execute("SELECT epoch_ms(max(timestamp)) FROM events").fetchone()[0]
    users = con.execute("SELECT count(DISTINCT user_id) FROM events").fetchone()[0]
    by_user = con.execute(
        "SELECT user_id, count(*) AS n FROM events "
        "WHERE timestamp >= make_timestamp(?::BIGINT * 1000) GROUP BY user_id ORDER BY n DESC, user_id",
        [since_ms(now_ms, 24 * 3600 * 1000)],
    ).fetchall()
    hot = by_user[0][0]
    typical = by_user[len(by_user) // 2][0]

    def lit(ms):
        return f"make_timestamp({ms * 1000})"

    params = {
        "since_1h": lit(since_ms(now_ms, 3600 * 1000)),
        "since_2h": lit(since_ms(now_ms, 2 * 3600 * 1000)),
        "since_24h": lit(since_ms(now_ms, 24 * 3600 * 1000)),
        "hot": hot,
        "typical": typical,
        "min_views": 1000,
    }
    timings, answers = {}, {}
    for name, _, sql in QUERIES:
        q = sql.format(**params)
        answers[name] = con.execute(q.replace("FROM events", "FROM clean")).fetchall()
        samples = []
        for _ in range(runs_per_query):
            t = time.perf_counter()
            con.execute(q).fetchall()
            samples.append(time.perf_counter() - t)
        timings[name] = statistics.median(samples) * 1e3
    with open(out_path, "w") as f:
        json.dump(
            {
                "load_s": load_s,
                "load_cpu_s": load_cpu,
                "rows": rows,
                "peak_rss": peak,
                "users": users,
                "hot": hot,
                "hot_events": by_user[0][1],
                "typical": typical,
                "typical_events": by_user[len(by_user) // 2][1],
                "ms": timings,
                "answers": {k: [list(map(norm, r)) for r in v] for k, v in answers.items()},
            },
            f,
        )


def since_ms(now_ms, window_ms):
    """The first instant tally's window of `window_ms` ending at `now_ms`
    counts: pane p counts when p > floor(now/P) - d/P."""
    pane = 1000 if window_ms <= 3600 * 1000 else 60_000
    return (now_ms // pane - window_ms // pane + 1) * pane


def norm(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def run_duckdb(path, runs_per_query):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.check_call(
        [sys.executable, __file__, "--duckdb-child", path, out, str(runs_per_query)]
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    result["process_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def run_tally(tally, path, params, repeat):
    out_dir = tempfile.mkdtemp(prefix="tally-peer-")
    cmd = [tally, "bench", "ingest", "--input", path, "--json", "--out", out_dir,
           "--repeat", str(repeat)]
    for name, sql, _ in QUERIES:
        cmd += ["--sql", f"{name}={sql.format(**params)}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(subprocess.check_output(cmd))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report["process_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return report


def tally_answers(tally, path, params):
    """The exact queries' answers, as CSV rows, from `tally run`."""
    answers = {}
    with tempfile.TemporaryDirectory() as d:
        for name, sql, _ in QUERIES:
            if name not in EXACT:
                continue
            q = os.path.join(d, f"{name}.sql")
            with open(q, "w") as f:
                f.write(sql.format(**params) + ";\n")
            out = subprocess.check_output([tally, "run", q, "--input", path, "--format", "csv"],
                                          text=True)
            rows = [line.split(",") for line in out.strip().splitlines()[1:]]
            answers[name] = [[norm(parse(c)) for c in r] for r in rows]
    return answers


def parse(cell):
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def series_p(report, name, label):
    for s in report["latency_us"]:
        if s["name"] == name:
            return s[label] / 1000.0
    return float("nan")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--duckdb-child":
        duckdb_child(sys.argv[2], int(sys.argv[4]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per side (median)")
    ap.add_argument("--tally", default="target/release/tally")
    ap.add_argument("--repeat", type=int, default=200, help="tally runs of each query")
    ap.add_argument("--duckdb-repeat", type=int, default=20, help="DuckDB runs of each query")
    ap.add_argument("--no-check", action="store_true", help="skip comparing exact answers")
    args = ap.parse_args()
    ensure_duckdb()
    path = os.path.abspath(args.file)

    duck = [run_duckdb(path, args.duckdb_repeat) for _ in range(args.runs)]
    d0 = duck[0]
    params = {"hot": d0["hot"], "typical": d0["typical"], "min_views": 1000}
    tally = [run_tally(args.tally, path, params, args.repeat) for _ in range(args.runs)]

    med = statistics.median
    t_rate = med(r["figures"]["events_per_s"] for r in tally)
    t_cpu = med(r["process_cpu_s"] for r in tally)
    t_rss = med(r["figures"]["peak_rss_bytes"] for r in tally)
    d_rate = med(d["rows"] / d["load_s"] for d in duck)
    d_cpu = med(d["process_cpu_s"] for d in duck)
    d_rss = med(d["peak_rss"] for d in duck)
    users = d0["users"]
    mib = 1 << 20

    print(f"# tally vs DuckDB on {os.path.basename(path)}")
    print()
    print(f"{d0['rows']:,} rows in DuckDB, {users:,} distinct users; hot user {d0['hot']} "
          f"({d0['hot_events']:,} events in 24 h), typical {d0['typical']} "
          f"({d0['typical_events']:,}); median of {args.runs} fresh processes each; "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    print()
    print("| what | tally | DuckDB | ratio (tally ÷ DuckDB speed) |")
    print("|---|---:|---:|---:|")
    print(f"| ingest, lines/s | {t_rate:,.0f} | {d_rate:,.0f} | {t_rate / d_rate:.2f}× |")
    print(f"| process CPU, s (start to exit) | {t_cpu:.1f} | {d_cpu:.1f} | |")
    print(f"| peak RSS | {t_rss / mib:,.0f} MiB = {t_rss / users:,.0f} B/user | "
          f"{d_rss / mib:,.0f} MiB | {d_rss / t_rss:.2f}× less |")
    for name, _, _ in QUERIES:
        tp50 = med(series_p(r, name, "p50") for r in tally)
        tp99 = med(series_p(r, name, "p99") for r in tally)
        dp50 = med(d["ms"][name] for d in duck)
        print(f"| {name}, p50 (tally p99) | {tp50:.3f} ms ({tp99:.3f}) | {dp50:.3f} ms | "
              f"{dp50 / tp50:.1f}× |")
    if not args.no_check:
        got = tally_answers(args.tally, path, params)
        for name, rows in got.items():
            want = d0["answers"][name]
            same = rows == want
            print(f"\n{name}: answers {'match' if same else 'differ (DuckDB keeps lines tally rejects)'}"
                  + ("" if same else f"\n  tally:  {rows[:5]}\n  DuckDB: {want[:5]}"))


if __name__ == "__main__":
    main()
