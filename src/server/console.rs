//! The web console: one page, its script and its style sheet, compiled
//! into the binary (nothing is fetched from anywhere else at run time), and
//! the list of saved queries it offers. docs/console.md describes the page.

use std::path::Path;

use actix_web::http::header;
use actix_web::HttpResponse;

use super::reply::Refusal;

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// Saved queries listed at most: a directory of more is cut, and says so.
const MAX_LISTED: usize = 1000;

/// One of the console's three files.
#[derive(Debug, Clone, Copy)]
pub(super) enum Asset {
    Page,
    Script,
    Style,
}

/// `GET /`, `/console.js`, `/console.css`.
pub(super) fn asset(asset: Asset) -> HttpResponse {
    let (body, kind) = match asset {
        Asset::Page => (INDEX, "text/html; charset=utf-8"),
        Asset::Script => (SCRIPT, "text/javascript; charset=utf-8"),
        Asset::Style => (STYLE, "text/css; charset=utf-8"),
    };
    HttpResponse::Ok()
        .content_type(kind)
        // The page runs only its own script and style, and talks only to
        // this server.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /queries`: every saved query of `--queries DIR`, by name, with its
/// leading comment as a description, its text and its parameters.
pub(super) fn list(dir: Option<&Path>) -> Result<HttpResponse, Refusal> {
    let mut listed = Vec::new();
    let mut cut = false;
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Refusal::from(crate::error::Error::io(
                format!("cannot list saved queries in {}", dir.display()),
                e,
            ))
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".sql")?;
                plain_name(stem).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        cut = names.len() > MAX_LISTED;
        names.truncate(MAX_LISTED);
        for name in names {
            let path = dir.join(format!("{name}.sql"));
            // A file that went away or is unreadable is left out, not an
            // error for the whole list.
            let Ok(sql) = crate::files::read_file(&path, "saved query") else {
                continue;
            };
            listed.push(serde_json::json!({
                "name": name,
                "description": description(&sql),
                "params": params(&sql),
                "sql": sql,
            }));
        }
    }
    let mut response = HttpResponse::Ok();
    if cut {
        response.insert_header(("X-Tally-Truncated", MAX_LISTED.to_string()));
    }
    Ok(response.json(listed))
}

/// Whether `name` may name a saved query: a plain file name of letters,
/// digits, `_`, `-` and `.`, not starting with a dot (so never a path).
pub(super) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The leading `--` comment lines, joined, without an `input:` line (it
/// names the test input of a golden, not what the query does).
pub(super) fn description(sql: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    for line in sql.lines() {
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        if comment.starts_with("input:") || comment.is_empty() {
            continue;
        }
        words.push(comment);
    }
    words.join(" ")
}

/// The `:name` parameters of a query, in order of first use, outside
/// strings, quoted names and comments.
pub(super) fn params(sql: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
            b':' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                let name = &sql[start..end];
                let starts_word = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
                if starts_word && !found.iter().any(|f| f == name) {
                    found.push(name.to_string());
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_found_outside_strings_and_comments() {
        let sql = "-- :not_me in a comment\nSELECT ':nor_me', \"a:b\" FROM events\n\
                   WHERE user_id = :user AND kind = :kind AND x = :user -- :late\n\
                   AND t::int = 1";
        assert_eq!(params(sql), ["user", "kind"]);
        assert!(params("SELECT 1").is_empty());
        assert!(
            params("SELECT :1, :").is_empty(),
            "a name starts with a letter"
        );
    }

    #[test]
    fn the_description_is_the_leading_comment_without_the_input_line() {
        let sql = "-- J9: count, min, max and mean\n-- over the last hour.\n\
                   -- input: tests/data/stats.ndjson\nSELECT 1;\n-- later\n";
        assert_eq!(
            description(sql),
            "J9: count, min, max and mean over the last hour."
        );
        assert_eq!(description("SELECT 1"), "");
    }
}
