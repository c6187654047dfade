//! `tally serve`, in process: the server starts on port 0 (as mini-redis's
//! tests start theirs) and a small hand client (`serve_client`) talks to
//! it. Every endpoint, every error status, the full queue's 503, rule hits
//! as Server-Sent Events, the OpenAPI description against the routes, the
//! saved queries against their golden answers, and concurrent posters and
//! queriers against one single-threaded ingest of the same events.

mod serve_client;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serve_client::{get, post, query, request};
use tally::event::Schema;
use tally::generator::{GenConfig, Generator};
use tally::server::{ServeOptions, Server};
use tally::shell::{render, Format};
use tally::{Config, Engine};

/// A server on a free port over a fresh engine of `config`.
fn start_server(config: Config, options: ServeOptions) -> Server {
    let options = ServeOptions {
        listen: "127.0.0.1:0".into(),
        workers: Some(2),
        ..options
    };
    Server::start(options, Box::new(move || Engine::start(config))).expect("server starts")
}

fn config(preset: &str) -> Config {
    let mut config = Config::new(Schema::preset(preset).expect("preset"));
    config.shards = 2;
    config
}

fn reels() -> (Server, SocketAddr) {
    let server = start_server(config("reels"), ServeOptions::default());
    let addr = server.addr();
    (server, addr)
}

fn stop(server: Server) {
    server.stop();
    server.join().expect("clean stop");
}

const EVENT: &str = r#"{"event_id":"single","event_type":"video_view","user_id":7,"video_id":70,"timestamp":"2025-01-15T00:00:00Z"}"#;

fn event(id: u64, user: u64, second: u64) -> String {
    format!(
        r#"{{"event_id":"e{id}","event_type":"like","user_id":{user},"video_id":{},"timestamp":"2025-01-15T00:{:02}:{:02}Z"}}"#,
        user * 10,
        second / 60,
        second % 60
    )
}

#[test]
fn an_ndjson_batch_is_counted_by_reason() {
    let (server, addr) = reels();
    let body = format!(
        "{}\n{}\n{}\nnot json\n{{\"event_id\":\"x\"}}\n",
        event(1, 1, 0),
        event(2, 2, 1),
        event(1, 1, 0)
    );
    let r = post(addr, "/events", "application/x-ndjson", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"lines": 5, "accepted": 2, "rejected": 3,
            "reasons": {"malformed_json": 1, "missing_field": 1, "duplicate": 1}})
    );
    // An empty body is a mistake, not a batch of nothing.
    let r = post(addr, "/events", "application/x-ndjson", b"");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("empty"));
    // Without a trailing newline, and with no content type at all.
    let r = request(addr, "POST", "/events", &[], event(3, 3, 2).as_bytes());
    assert_eq!(r.json()["accepted"], 1, "{}", r.text());
    assert_eq!(
        query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 1h")[0]["n"],
        3
    );
    stop(server);
}

#[test]
fn a_json_array_is_a_batch_and_one_object_gets_its_verdict() {
    let (server, addr) = reels();
    let array = format!("[\n  {},\n  {}\n]", event(1, 1, 0), event(2, 1, 1));
    let r = post(addr, "/events", "application/json", array.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 2);

    let r = post(addr, "/events", "application/json", EVENT.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"lines": 1, "accepted": 1, "rejected": 0, "reasons": {}})
    );
    // The same object again is a duplicate: 400 with the reason.
    let r = post(addr, "/events", "application/json", EVENT.as_bytes());
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["reason"], "duplicate");
    assert!(body["error"].as_str().unwrap().contains("already accepted"));
    // A missing field names the field.
    let r = post(
        addr,
        "/events",
        "application/json",
        br#"{"event_id":"z","timestamp":"2025-01-15T00:00:09Z"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "missing_field");
    assert!(
        r.json()["error"].as_str().unwrap().contains("is missing"),
        "{}",
        r.text()
    );
    // A JSON body that is not JSON: 400 with the position, counted nowhere.
    let r = post(addr, "/events", "application/json", b"{\n \"a\": }");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["line"], 2, "{}", r.text());
    assert!(r.json()["column"].as_u64().is_some());
    // The end of a line is column 1, never 0 (positions are 1-based).
    let r = request(
        addr,
        "POST",
        "/query",
        &[("Content-Type", "application/json")],
        b"\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        (r.json()["line"].as_u64(), r.json()["column"].as_u64()),
        (Some(2), Some(1)),
        "{}",
        r.text()
    );
    let r = post(addr, "/events", "application/json; charset=utf-8", b"42");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("object"));
    assert_eq!(
        query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 1h")[0]["n"],
        3
    );
    // Three hours ahead of the stream: held by the future guard, 202.
    let ahead = event(99, 1, 0).replace("T00:", "T03:");
    let r = post(addr, "/events", "application/json", ahead.as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["accepted"], 0);
    assert!(r.json()["held"].as_str().unwrap().contains("--max-jump"));
    stop(server);
}

/// A post's body is a whole piece of input: the future guard settles there
/// what it holds before the clock has started. A lone first event is
/// admitted (201) and seen at once; a first line five months ahead of the
/// line after it in the same body is the rejected one, not the clock.
#[test]
fn a_post_settles_the_first_events_when_its_body_ends() {
    let (server, addr) = reels();
    let r = post(addr, "/events", "application/json", EVENT.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 1h")[0]["n"],
        1
    );
    stop(server);

    let (server, addr) = reels();
    let far = event(1, 1, 0).replace("2025-01-15", "2025-06-15");
    let body = format!("{far}\n{}\n", event(2, 2, 1));
    let r = post(addr, "/events", "application/x-ndjson", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"lines": 2, "accepted": 1, "rejected": 1,
            "reasons": {"too_far_in_future": 1}})
    );
    let r = post(
        addr,
        "/events",
        "application/json",
        event(3, 3, 2).as_bytes(),
    );
    assert_eq!(r.status, 201, "the clock is the stream's: {}", r.text());
    assert_eq!(
        query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 1h")[0]["n"],
        2
    );
    stop(server);
}

#[test]
fn queries_answer_as_json_or_csv_and_errors_carry_their_position() {
    let (server, addr) = reels();
    let body: String = (0..10).map(|i| event(i, i % 3, i) + "\n").collect();
    post(addr, "/events", "text/plain", body.as_bytes());
    let r = post(
        addr,
        "/query",
        "application/json",
        br#"{"sql": "SELECT COUNT(*) AS n FROM events WHERE user_id = :user WINDOW 1h", "params": {"user": 1}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), "[{\"n\":3}]\n");
    let r = request(
        addr,
        "POST",
        "/query",
        &[("Accept", "text/csv"), ("Content-Type", "text/plain")],
        b"SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY user_id WINDOW 1h",
    );
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(r.text(), "user_id,n\n0,4\n1,3\n2,3\n");

    let r = post(addr, "/query", "text/plain", b"SELECT COUNT(*)\nFRM events");
    assert_eq!(r.status, 400);
    let e = r.json();
    assert!(e["error"].as_str().unwrap().contains("syntax error"), "{e}");
    assert_eq!(e["line"], 2);
    assert_eq!(e["column"], 5);
    let r = post(
        addr,
        "/query",
        "text/plain",
        b"SELECT usr_id FROM events LIMIT 1",
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("usr_id"));
    assert!(r.json().get("line").is_none());
    let r = post(addr, "/query", "text/plain", b"SHOW STATS; SHOW RULES");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("one statement"));
    let r = post(addr, "/query", "application/json", br#"{"sql": 1}"#);
    assert_eq!(r.status, 400);
    let r = post(
        addr,
        "/query",
        "application/json",
        br#"{"sql": "SELECT 1", "params": {"a": [1]}}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("parameter a"));
    stop(server);
}

#[test]
fn saved_queries_bind_parameters_and_unknown_names_are_404() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("user_count.sql"),
        "-- a user's events\nSELECT COUNT(*) AS n FROM events WHERE user_id = :user WINDOW 1h;\n",
    )
    .unwrap();
    let options = ServeOptions {
        queries: Some(dir.path().to_path_buf()),
        ..ServeOptions::default()
    };
    let server = start_server(config("reels"), options);
    let addr = server.addr();
    let body: String = (0..6).map(|i| event(i, i % 2, i) + "\n").collect();
    post(addr, "/events", "text/plain", body.as_bytes());
    let r = get(addr, "/queries/user_count?user=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!([{"n": 3}]));
    let r = request(
        addr,
        "GET",
        "/queries/user_count?user=0",
        &[("Accept", "text/csv")],
        b"",
    );
    assert_eq!(r.text(), "n\n3\n");
    // A missing parameter is the client's mistake.
    let r = get(addr, "/queries/user_count");
    assert_eq!(r.status, 400, "{}", r.text());
    for name in ["nothing", "..%2Fuser_count", ".hidden"] {
        let r = get(addr, &format!("/queries/{name}"));
        assert_eq!(r.status, 404, "{name}: {}", r.text());
        assert!(r.json()["error"].as_str().is_some());
    }
    stop(server);
    // Without --queries every name is unknown.
    let (server, addr) = reels();
    let r = get(addr, "/queries/user_count");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("--queries"));
    stop(server);
}

#[test]
fn health_metrics_and_unknown_routes() {
    let (server, addr) = reels();
    post(
        addr,
        "/events",
        "text/plain",
        format!("{EVENT}\nbad\n").as_bytes(),
    );
    query(addr, "SELECT COUNT(*) FROM events WINDOW 1h");
    let r = get(addr, "/health");
    assert_eq!(r.status, 200);
    let h = r.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["schema"], "reels");
    assert_eq!(h["lines"], 2);
    assert_eq!(h["accepted"], 1);

    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    let samples = prometheus_samples(&text);
    let value = |name: &str| samples.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    assert_eq!(value("tally_events_accepted_total"), Some(1.0));
    assert_eq!(
        value("tally_events_rejected_total{reason=\"malformed_json\"}"),
        Some(1.0)
    );
    assert_eq!(value("tally_actors{kind=\"users\"}"), Some(1.0));
    assert_eq!(value("tally_query_duration_seconds_count"), Some(1.0));
    assert_eq!(
        value("tally_query_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(1.0)
    );

    let r = get(addr, "/nowhere");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("/nowhere"));
    let r = get(addr, "/events");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert!(r.json()["error"].as_str().is_some());
    let r = post(addr, "/health", "text/plain", b"");
    assert_eq!(r.status, 405);
    stop(server);
}

/// Every sample of a Prometheus text scrape as `(name{labels}, value)`;
/// panics on a line that is not a comment, a blank or a sample, or on a
/// sample of a metric without `# TYPE`.
fn prometheus_samples(text: &str) -> Vec<(String, f64)> {
    let mut typed = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            typed.push(parts.next().unwrap().to_string());
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("tally_"), "{line}");
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| typed.iter().any(|t| t == b))
            .unwrap_or(name);
        assert!(typed.iter().any(|t| t == base), "no # TYPE for {line}");
        if name.ends_with("_total") {
            assert!(value >= 0.0);
        }
        samples.push((series.to_string(), value));
    }
    samples
}

#[test]
fn a_body_over_max_body_is_413() {
    let options = ServeOptions {
        max_body: 1024,
        ..ServeOptions::default()
    };
    let server = start_server(config("reels"), options);
    let addr = server.addr();
    let big = "x".repeat(2048);
    let r = post(addr, "/events", "text/plain", big.as_bytes());
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("--max-body"));
    let r = post(addr, "/query", "text/plain", big.as_bytes());
    assert_eq!(r.status, 413);
    // Chunked, without a length: refused once it passes the limit.
    let mut stream = serve_client::connect(addr);
    let head = "POST /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    for _ in 0..3 {
        let _ = stream.write_all(format!("200\r\n{}\r\n", "y".repeat(512)).as_bytes());
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let r = serve_client::read_response(&mut stream);
    assert_eq!(r.status, 413);
    // The limit left the server fine.
    let r = post(addr, "/events", "text/plain", EVENT.as_bytes());
    assert_eq!(r.json()["accepted"], 1);
    stop(server);
}

#[test]
fn a_full_queue_is_503_with_retry_after_and_takes_nothing() {
    let options = ServeOptions {
        queue: 1,
        ..ServeOptions::default()
    };
    let server = start_server(config("reels"), options);
    let addr = server.addr();
    // The first post holds the one permit while its body is not all sent.
    let body = format!("{EVENT}\n");
    let mut first = serve_client::connect(addr);
    let head = serve_client::head(
        "POST",
        "/events",
        &[("Content-Type", "text/plain")],
        Some(body.len()),
    );
    first.write_all(head.as_bytes()).unwrap();
    first.write_all(&body.as_bytes()[..10]).unwrap();
    while get(addr, "/health").json()["queue_depth"] != 1 {
        std::thread::yield_now();
    }
    let r = post(addr, "/events", "text/plain", event(9, 9, 9).as_bytes());
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("queue is full"));
    let r = post(addr, "/query", "text/plain", b"SHOW STATS");
    assert_eq!(r.status, 503);
    // Metrics have a lane of their own, and count the refusals.
    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("tally_http_overloaded_total 2\n"));
    first.write_all(&body.as_bytes()[10..]).unwrap();
    let r = serve_client::read_response(&mut first);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);
    // Refused posts were never ingested.
    assert_eq!(
        query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 1h")[0]["n"],
        1
    );
    stop(server);
}

#[test]
fn rule_hits_stream_as_server_sent_events() {
    let (server, addr) = reels();
    let rule = "CREATE RULE busy AS SELECT user_id, COUNT(*) AS n FROM events \
                GROUP BY user_id HAVING n > 2 WINDOW 60s";
    let r = post(addr, "/query", "text/plain", rule.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let mut stream = serve_client::connect(addr);
    stream
        .write_all(serve_client::head("GET", "/hits", &[], None).as_bytes())
        .unwrap();
    let mut reader = BufReader::new(stream);
    let (status, headers) = serve_client::read_head(&mut reader);
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(n, v)| n == "content-type" && v == "text/event-stream"));
    let body: String = (0..4).map(|i| event(i, 5, i) + "\n").collect();
    post(addr, "/events", "text/plain", body.as_bytes());
    let mut hit = None;
    for _ in 0..50 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a stream line");
        // Chunked framing lines and comments are not events.
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            hit = Some(serde_json::from_str::<serde_json::Value>(data).expect("JSON hit"));
            break;
        }
    }
    let hit = hit.expect("a hit event");
    assert_eq!(hit["rule"], "busy");
    assert_eq!(hit["key"], 5);
    assert_eq!(hit["n"], 3);
    // Stopping ends the stream rather than waiting for it.
    stop(server);
}

#[test]
fn openapi_describes_every_route_and_the_statuses_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("n.sql"),
        "SELECT COUNT(*) FROM events WINDOW 1h",
    )
    .unwrap();
    let options = ServeOptions {
        queries: Some(dir.path().to_path_buf()),
        max_body: 4096,
        ..ServeOptions::default()
    };
    let server = start_server(config("reels"), options);
    let addr = server.addr();
    let r = get(addr, "/openapi.json");
    assert_eq!(r.status, 200);
    let api = r.json();
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    let paths = api["paths"].as_object().unwrap();
    let routes = tally::server::route_table();
    for (method, path) in &routes {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not in openapi.json"
        );
    }
    let described: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        described,
        routes.len(),
        "openapi.json describes a route the server lacks"
    );
    // Each status a route answers (driven here) is one it documents.
    let big = vec![b'x'; 5000];
    // (method, route, path, content type, body, status)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [u8], u16);
    let cases: Vec<Case> = vec![
        ("post", "/events", "/events", "text/plain", EVENT.as_bytes(), 200),
        ("post", "/events", "/events", "application/json", br#"{"event_id":"o","event_type":"like","user_id":1,"video_id":2,"timestamp":"2025-01-15T00:00:01Z"}"#, 201),
        ("post", "/events", "/events", "application/json", b"[", 400),
        ("post", "/events", "/events", "text/plain", &big, 413),
        ("post", "/query", "/query", "text/plain", b"SHOW STATS", 200),
        ("post", "/query", "/query", "text/plain", b"SELEC", 400),
        ("post", "/query", "/query", "text/plain", &big, 413),
        ("get", "/queries/{name}", "/queries/n", "", b"", 200),
        ("get", "/queries/{name}", "/queries/m", "", b"", 404),
        ("get", "/health", "/health", "", b"", 200),
        ("get", "/metrics", "/metrics", "", b"", 200),
        ("get", "/openapi.json", "/openapi.json", "", b"", 200),
    ];
    for (method, route, path, content_type, body, want) in cases {
        let headers: Vec<(&str, &str)> = if content_type.is_empty() {
            vec![]
        } else {
            vec![("Content-Type", content_type)]
        };
        let r = request(addr, &method.to_uppercase(), path, &headers, body);
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        let responses = &paths[route][method]["responses"];
        assert!(
            responses.get(want.to_string()).is_some(),
            "{method} {route} answers {want}, which openapi.json does not list"
        );
        if want >= 400 {
            assert!(r.json()["error"].as_str().is_some(), "{method} {path}");
        }
    }
    // Every route that queues work documents the full queue.
    for (method, path) in &routes {
        if ["/events", "/query", "/queries/{name}", "/metrics"].contains(path) {
            assert!(
                paths[*path][*method]["responses"].get("503").is_some(),
                "{path}"
            );
        }
    }
    stop(server);
}

/// The saved queries that stand in for the two small services: each served
/// over HTTP on its committed input, the answer as in its golden file
/// (`UPDATE_GOLDEN=1` rewrites them).
#[test]
fn the_service_queries_answer_over_http_as_their_goldens() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for name in [
        "statistics",
        "shop_most_viewed",
        "shop_most_carted",
        "shop_top_revenue",
    ] {
        let text = std::fs::read_to_string(root.join(format!("queries/{name}.sql"))).unwrap();
        let input: PathBuf = text
            .lines()
            .find_map(|l| l.strip_prefix("-- input:"))
            .map(|p| root.join(p.trim()))
            .expect("an input header");
        let events = std::fs::read_to_string(&input).unwrap();
        let schema = Schema::detect(events.lines().take(64)).unwrap();
        let mut config = Config::new(schema);
        config.shards = 2;
        let options = ServeOptions {
            queries: Some(root.join("queries")),
            ..ServeOptions::default()
        };
        let server = start_server(config, options);
        let addr = server.addr();
        let r = post(addr, "/events", "application/x-ndjson", events.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        let json = get(addr, &format!("/queries/{name}"));
        assert_eq!(json.status, 200, "{name}: {}", json.text());
        let csv = request(
            addr,
            "GET",
            &format!("/queries/{name}"),
            &[("Accept", "text/csv")],
            b"",
        );
        stop(server);
        let got = format!(
            "GET /queries/{name}\n{}\nAccept: text/csv\n{}",
            json.text(),
            csv.text()
        );
        let golden = root.join(format!("tests/golden/http/{name}.out"));
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{name}:\n--- want\n{want}--- got\n{got}")),
            Err(_) => failures.push(format!(
                "{name}: no {}; run UPDATE_GOLDEN=1 cargo test --release --test serve",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The questions both runs must answer alike (`:user` is the first
/// line's user: a point query).
const QUESTIONS: [&str; 5] = [
    "SELECT COUNT(*) AS n FROM events WINDOW 24h",
    "SELECT TOP 3 event_type FROM events WINDOW 1h",
    "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5 WINDOW 24h",
    "SELECT COUNT(*) AS n, SUM(metadata.view_duration_ms) AS d FROM events WHERE user_id = :user WINDOW 24h",
    "SHOW STATS",
];

/// A result's JSON, without the `SHOW STATS` rows that depend on more than
/// the events: the id history's size (its hash seed is random) and the
/// pane slots (how panes fold depends on arrival order).
fn comparable(json: &str) -> String {
    let rows: Vec<serde_json::Value> = serde_json::from_str(json).expect("JSON rows");
    let kept: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|row| {
            row.get("counter")
                .and_then(|c| c.as_str())
                .is_none_or(|c| !["state.id_history_bytes", "state.pane_slots"].contains(&c))
        })
        .collect();
    serde_json::to_string(&kept).unwrap()
}

#[test]
fn concurrent_posters_and_queriers_agree_with_one_single_threaded_ingest() {
    let lines: Vec<String> = Generator::new(&GenConfig {
        events: 24_000,
        span_ms: 30 * 60_000,
        duplicates: 0.02,
        bad: 0.01,
        seed: 7,
        ..GenConfig::default()
    })
    .unwrap()
    .collect();

    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let user = first["user_id"].as_i64().unwrap().to_string();
    let questions: Vec<String> = QUESTIONS
        .iter()
        .map(|q| q.replace(":user", &user))
        .collect();

    // One engine, one thread, all the lines.
    let mut alone = Engine::start(config("reels")).unwrap();
    alone.ingest_lines("alone", &lines).unwrap();
    let want: Vec<String> = questions
        .iter()
        .map(|q| comparable(&render(&alone.execute(q).unwrap()[0], Format::Json)))
        .collect();
    drop(alone);

    let (server, addr) = reels();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let posters: Vec<_> = lines
        .chunks(lines.len() / 4)
        .map(|part| {
            let part = part.to_vec();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for batch in part.chunks(500) {
                    let body = batch.join("\n") + "\n";
                    let r = post(addr, "/events", "application/x-ndjson", body.as_bytes());
                    assert_eq!(r.status, 200, "{}", r.text());
                    let accepted = r.json()["accepted"].as_u64().unwrap();
                    acknowledged.fetch_add(accepted, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Queriers: every query sees at least what was acknowledged before it
    // was sent.
    let queriers: Vec<_> = (0..2)
        .map(|_| {
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                for _ in 0..40 {
                    let before = acknowledged.load(Ordering::SeqCst);
                    let n = query(addr, QUESTIONS[0])[0]["n"].as_u64().unwrap();
                    assert!(
                        n >= before,
                        "a query saw {n} events, {before} were acknowledged"
                    );
                    assert!(n >= seen, "the count went back from {seen} to {n}");
                    seen = n;
                }
            })
        })
        .collect();
    for t in posters.into_iter().chain(queriers) {
        t.join().expect("client thread");
    }
    let got: Vec<String> = questions
        .iter()
        .map(|q| comparable(&post(addr, "/query", "text/plain", q.as_bytes()).text()))
        .collect();
    stop(server);
    assert!(
        want[3].contains("\"n\":") && !want[3].contains("\"n\":0"),
        "{}",
        want[3]
    );
    for ((q, want), got) in questions.iter().zip(&want).zip(&got) {
        assert_eq!(want, got, "{q}");
    }
}
