//! Request bodies: read within `--max-body`, and the three shapes of a
//! `POST /events` body turned into NDJSON lines for the engine.
//!
//! - any content type but JSON: NDJSON, passed on as it is (a bad line is
//!   the engine's to reject, counted, like a bad line of a file);
//! - `application/json` holding an array: each element becomes one line;
//! - `application/json` holding one object: one line, and the answer is
//!   that event's verdict.
//!
//! A JSON body that is not JSON at all is a bad request (400 with the
//! position), not a rejected event: it never reaches the engine. Elements
//! are written back compactly, so a pretty-printed array still gives one
//! line per event.

use actix_web::web::{self, BytesMut};
use actix_web::HttpRequest;
use futures::StreamExt;

use super::reply::Refusal;

/// What a `POST /events` body holds.
pub(super) struct Events {
    /// NDJSON lines, each ending in `\n`.
    pub lines: Vec<u8>,
    /// The body was one JSON object.
    pub single: bool,
}

/// Whether the request says its body is JSON (`application/json`, or a
/// `+json` type).
pub(super) fn is_json(req: &HttpRequest) -> bool {
    content_type(req).is_some_and(|t| t == "application/json" || t.ends_with("+json"))
}

/// The request's media type, lower case, without parameters.
fn content_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("content-type")?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    Some(media)
}

/// Reads the whole body, refusing it with 413 as soon as it passes `max`
/// bytes (at once when `Content-Length` says so).
pub(super) async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, Refusal> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refusal::too_large(max));
    }
    let mut body = BytesMut::with_capacity(declared.map_or(8192, |n| n as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Refusal::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(Refusal::too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.to_vec())
}

/// Turns a `POST /events` body into lines.
pub(super) fn events(req: &HttpRequest, body: Vec<u8>) -> Result<Events, Refusal> {
    if !is_json(req) {
        let mut lines = body;
        if !lines.is_empty() && !lines.ends_with(b"\n") {
            lines.push(b'\n');
        }
        return Ok(Events {
            lines,
            single: false,
        });
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        Refusal::bad_request(format!(
            "the body is not JSON: {e} (send NDJSON with another content type)"
        ))
        .at(e.line() as u64, e.column() as u64)
    })?;
    let (elements, single) = match value {
        serde_json::Value::Array(elements) => (elements, false),
        object @ serde_json::Value::Object(_) => (vec![object], true),
        _ => {
            return Err(Refusal::bad_request(
                "a JSON body must be one event object or an array of them".into(),
            ))
        }
    };
    let mut lines = Vec::with_capacity(body.len());
    for element in &elements {
        // Writing a Value to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut lines, element);
        lines.push(b'\n');
    }
    Ok(Events { lines, single })
}
