//! Error answers: every refusal is JSON with an `error` field (and `line`
//! and `column` where the text has a position), with the status that
//! names its cause.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::error::Error;

/// Seconds a client told `503` should wait before trying again.
pub(super) const RETRY_AFTER_SECONDS: u32 = 1;

/// A request the server refuses, and why.
#[derive(Debug)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub error: String,
    /// 1-based line and column of the error in the request's text.
    pub position: Option<(u64, u64)>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, error: String) -> Refusal {
        Refusal {
            status,
            error,
            position: None,
        }
    }

    pub(super) fn bad_request(error: String) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, error)
    }

    pub(super) fn too_large(max: usize) -> Refusal {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {max} bytes (--max-body)"),
        )
    }

    /// The engine queue is full: try again shortly.
    pub(super) fn overloaded() -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine queue is full; retry after a second".into(),
        )
    }

    /// The server is stopping and takes no more work.
    pub(super) fn stopping() -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is stopping".into(),
        )
    }

    /// At a 1-based line and column. serde_json says column 0 for the
    /// end of a line (an empty body's EOF): that is column 1 to a reader.
    pub(super) fn at(mut self, line: u64, column: u64) -> Refusal {
        self.position = Some((line.max(1), column.max(1)));
        self
    }

    pub(super) fn response(&self) -> HttpResponse {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.clone().into());
        if let Some((line, column)) = self.position {
            body.insert("line".into(), line.into());
            body.insert("column".into(), column.into());
        }
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        response.json(serde_json::Value::Object(body))
    }
}

impl From<Error> for Refusal {
    /// The user's mistakes are 400 (with the position of a syntax error);
    /// the server's own failures are 500.
    fn from(e: Error) -> Refusal {
        let status = match &e {
            Error::Syntax(_) | Error::Query(_) | Error::InvalidInput(_) | Error::Usage(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::Io { .. } | Error::Corrupt(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let position = match &e {
            Error::Syntax(s) => Some((s.line, s.column)),
            _ => None,
        };
        Refusal {
            status,
            error: e.to_string(),
            position,
        }
    }
}
