//! The web console's routes, in process: the page and its two files are
//! served from the binary with their types and a content security policy,
//! the page names only its own files, and `GET /queries` lists the saved
//! queries with their descriptions and parameters. What the page does in
//! a browser is `tests/browser/console_test.py` (run by `.ci/browser`).

mod serve_client;

use serve_client::get;
use tally::event::Schema;
use tally::server::{ServeOptions, Server};
use tally::{Config, Engine};

fn start(queries: Option<std::path::PathBuf>) -> Server {
    let mut config = Config::new(Schema::preset("reels").expect("preset"));
    config.shards = 1;
    let options = ServeOptions {
        listen: "127.0.0.1:0".into(),
        workers: Some(1),
        queries,
        ..ServeOptions::default()
    };
    Server::start(options, Box::new(move || Engine::start(config))).expect("server starts")
}

#[test]
fn the_page_and_its_files_are_served_from_the_binary() {
    let server = start(None);
    let addr = server.addr();
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = page.text();
    // Everything the page loads is its own: no CDN, no other origin.
    let elsewhere: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.contains("//"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "refers to other origins: {elsewhere:?}"
    );
    for (path, kind) in [
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        assert!(html.contains(path), "the page loads {path}");
        let file = get(addr, path);
        assert_eq!(file.status, 200, "{path}");
        assert!(
            file.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        assert!(file.body.len() > 1000, "{path} has its content");
    }
    let script = get(addr, "/console.js").text();
    for endpoint in ["/query", "/queries", "/metrics", "/health", "/hits"] {
        assert!(
            script.contains(&format!("\"{endpoint}")),
            "the script uses {endpoint}"
        );
    }
    server.stop();
    server.join().expect("clean stop");
}

#[test]
fn saved_queries_are_listed_with_description_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("user_count.sql"),
        "-- A user's events in the last hour.\n-- input: tests/data/reels.ndjson\n\
         SELECT COUNT(*) AS n FROM events WHERE user_id = :user AND event_type = :kind WINDOW 1h;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("all.sql"),
        "SELECT COUNT(*) FROM events WINDOW 1h;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a query").unwrap();
    std::fs::write(dir.path().join(".hidden.sql"), "SELECT 1").unwrap();
    let server = start(Some(dir.path().to_path_buf()));
    let r = get(server.addr(), "/queries");
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["all", "user_count"],
        "sorted, .sql only, no hidden files"
    );
    let q = &listed[1];
    assert_eq!(q["description"], "A user's events in the last hour.");
    assert_eq!(q["params"], serde_json::json!(["user", "kind"]));
    assert!(q["sql"].as_str().unwrap().contains("WHERE user_id = :user"));
    assert_eq!(listed[0]["params"], serde_json::json!([]));
    server.stop();
    server.join().expect("clean stop");

    // Without --queries the list is empty, not an error.
    let server = start(None);
    let r = get(server.addr(), "/queries");
    assert_eq!((r.status, r.json()), (200, serde_json::json!([])));
    server.stop();
    server.join().expect("clean stop");
}
