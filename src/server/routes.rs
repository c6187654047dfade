//! The endpoints: one handler per route, each turning a request into a
//! [`Job`] for the engine owner (or answering from what the server keeps
//! itself), and the owner's answer into a response.
//!
//! Every handler that gives the engine work takes a queue permit first,
//! before it reads the body, so a full queue costs a request nothing but
//! its headers (`503`, `Retry-After`). The table of routes is [`routes`];
//! `openapi.json` describes the same table, and a test keeps them equal.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::channel::oneshot;
use futures::StreamExt;

use super::body;
use super::console::{self, Asset};
use super::hits::HitHub;
use super::metrics::{self, ServerFigures};
use super::owner::{Ingested, Job, Published};
use super::queue::{Lane, Permit, Queue};
use super::reply::Refusal;
use crate::query::{param_value, Literal, Params};
use crate::shell::{render, Format};
use crate::value::ResultSet;

/// The OpenAPI 3 description of these routes.
pub(super) const OPENAPI: &str = include_str!("openapi.json");

/// What every handler shares.
pub(super) struct State {
    pub queue: Queue<Job>,
    pub hits: Arc<HitHub>,
    pub published: Arc<Published>,
    /// `--max-body`, in bytes.
    pub max_body: usize,
    /// `--queries DIR`: where `GET /queries/NAME` finds `NAME.sql`.
    pub queries: Option<PathBuf>,
    /// The schema's name, for `/health`.
    pub schema: String,
    /// Requests answered 503 because the queue was full.
    pub overloaded: AtomicU64,
}

/// The routes: path, the one method each answers, and its handler. Any
/// other method on a path is a JSON `405`, any other path a JSON `404`.
const TABLE: [(&str, Method, Handler); 11] = [
    ("/", Method::Get, Handler::Console(Asset::Page)),
    ("/console.js", Method::Get, Handler::Console(Asset::Script)),
    ("/console.css", Method::Get, Handler::Console(Asset::Style)),
    ("/events", Method::Post, Handler::Events),
    ("/query", Method::Post, Handler::Query),
    ("/queries", Method::Get, Handler::SavedList),
    ("/queries/{name}", Method::Get, Handler::Saved),
    ("/health", Method::Get, Handler::Health),
    ("/metrics", Method::Get, Handler::Metrics),
    ("/hits", Method::Get, Handler::Hits),
    ("/openapi.json", Method::Get, Handler::OpenApi),
];

#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
}

/// The endpoints.
#[derive(Debug, Clone, Copy)]
enum Handler {
    Console(Asset),
    Events,
    Query,
    SavedList,
    Saved,
    Health,
    Metrics,
    Hits,
    OpenApi,
}

/// Every route as `(method, path)`, lower-case method, OpenAPI's spelling.
pub(super) fn route_list() -> Vec<(&'static str, &'static str)> {
    TABLE
        .iter()
        .map(|(path, method, _)| {
            let method = match method {
                Method::Get => "get",
                Method::Post => "post",
            };
            (method, *path)
        })
        .collect()
}

/// Registers [`TABLE`] on an app.
pub(super) fn routes(config: &mut web::ServiceConfig) {
    for (path, method, handler) in TABLE {
        let (route, allow) = match method {
            Method::Get => (web::get(), "GET"),
            Method::Post => (web::post(), "POST"),
        };
        config.service(
            web::resource(path)
                .route(route.to(
                    move |req: HttpRequest, payload: web::Payload, state: web::Data<State>| {
                        dispatch(handler, req, payload, state)
                    },
                ))
                .default_service(web::to(move |req: HttpRequest| {
                    method_not_allowed(req, allow)
                })),
        );
    }
    config.default_service(web::to(not_found));
}

async fn dispatch(
    handler: Handler,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> HttpResponse {
    let answer = match handler {
        Handler::Console(asset) => Ok(console::asset(asset)),
        Handler::Events => post_events(&req, payload, &state).await,
        Handler::SavedList => console::list(state.queries.as_deref()),
        Handler::Query => post_query(&req, payload, &state).await,
        Handler::Saved => get_saved(&req, &state).await,
        Handler::Health => Ok(health(&state)),
        Handler::Metrics => get_metrics(&state).await,
        Handler::Hits => get_hits(&state),
        Handler::OpenApi => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(OPENAPI)),
    };
    answer.unwrap_or_else(|refusal| refusal.response())
}

impl State {
    /// A permit of `lane`, or the 503 of a full queue.
    fn permit(&self, lane: Lane) -> Result<Permit, Refusal> {
        if !self.published.running.load(Ordering::Acquire) {
            return Err(Refusal::stopping());
        }
        self.queue.try_permit(lane).ok_or_else(|| {
            self.overloaded.fetch_add(1, Ordering::Relaxed);
            Refusal::overloaded()
        })
    }

    /// Queues `job` and waits for the owner's answer.
    async fn ask<T>(
        &self,
        permit: Permit,
        job: impl FnOnce(oneshot::Sender<crate::Result<T>>) -> Job,
    ) -> Result<T, Refusal> {
        let (reply, answer) = oneshot::channel();
        if !self.queue.send(job(reply), permit) {
            return Err(Refusal::stopping());
        }
        let answer = answer.await.map_err(|_| Refusal::stopping())?;
        answer.map_err(Refusal::from)
    }
}

/// `POST /events`.
async fn post_events(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
) -> Result<HttpResponse, Refusal> {
    let permit = state.permit(Lane::Work)?;
    let raw = body::read(req, payload, state.max_body).await?;
    if raw.is_empty() {
        return Err(Refusal::bad_request(
            "the body is empty: post NDJSON lines, a JSON array of events or one JSON object"
                .into(),
        ));
    }
    let events = body::events(req, raw)?;
    let single = events.single;
    let ingested = state
        .ask(permit, |reply| Job::Ingest {
            lines: events.lines,
            single,
            reply,
        })
        .await?;
    Ok(ingest_answer(&ingested, single))
}

/// The counts of a posted body; for a single object the status is its
/// verdict: 201 accepted, 400 rejected (with the reason), 202 held by the
/// future guard until later events confirm its time.
fn ingest_answer(ingested: &Ingested, single: bool) -> HttpResponse {
    let summary = &ingested.summary;
    let rejected: u64 = summary.rejected.iter().map(|(_, n)| n).sum();
    let reasons: serde_json::Map<String, serde_json::Value> = summary
        .rejected
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| (reason.to_string(), (*n).into()))
        .collect();
    let mut body = serde_json::Map::new();
    let mut status = StatusCode::OK;
    if single {
        status = if summary.accepted > 0 {
            StatusCode::CREATED
        } else if let Some((reason, detail)) = &ingested.rejected {
            body.insert(
                "error".into(),
                format!("rejected ({reason}): {detail}").into(),
            );
            body.insert("reason".into(), reason.name().into());
            StatusCode::BAD_REQUEST
        } else {
            body.insert(
                "held".into(),
                "the event is far ahead of the stream; it is admitted once later events \
                 confirm the jump (--max-jump)"
                    .into(),
            );
            StatusCode::ACCEPTED
        };
    }
    body.insert("lines".into(), summary.lines.into());
    body.insert("accepted".into(), summary.accepted.into());
    body.insert("rejected".into(), rejected.into());
    body.insert("reasons".into(), serde_json::Value::Object(reasons));
    HttpResponse::build(status).json(serde_json::Value::Object(body))
}

/// `POST /query`: JSON `{"sql": ..., "params": {...}}`, or the SQL text.
async fn post_query(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
) -> Result<HttpResponse, Refusal> {
    let permit = state.permit(Lane::Work)?;
    let raw = body::read(req, payload, state.max_body).await?;
    let (sql, params) = if body::is_json(req) {
        query_request(&raw)?
    } else {
        let sql = String::from_utf8(raw)
            .map_err(|_| Refusal::bad_request("the SQL text is not UTF-8".into()))?;
        (sql, Params::new())
    };
    let result = state
        .ask(permit, |reply| Job::Query { sql, params, reply })
        .await?;
    Ok(rows(req, &result))
}

/// The `{"sql", "params"}` of a JSON query request.
fn query_request(raw: &[u8]) -> Result<(String, Params), Refusal> {
    let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
        Refusal::bad_request(format!("the body is not JSON: {e}"))
            .at(e.line() as u64, e.column() as u64)
    })?;
    let Some(object) = value.as_object() else {
        return Err(Refusal::bad_request(
            "expected {\"sql\": \"...\", \"params\": {...}}".into(),
        ));
    };
    let Some(sql) = object.get("sql").and_then(|s| s.as_str()) else {
        return Err(Refusal::bad_request(
            "the request has no \"sql\" string".into(),
        ));
    };
    let mut params = Params::new();
    match object.get("params") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(given)) => {
            for (name, value) in given {
                let literal = literal(value).ok_or_else(|| {
                    Refusal::bad_request(format!(
                        "parameter {name}: expected a string, number, boolean or null"
                    ))
                })?;
                params.insert(name.trim_start_matches(':').to_string(), literal);
            }
        }
        Some(_) => {
            return Err(Refusal::bad_request(
                "\"params\" must be an object of name: value".into(),
            ))
        }
    }
    Ok((sql.to_string(), params))
}

/// A JSON parameter value as a SQL literal.
fn literal(value: &serde_json::Value) -> Option<Literal> {
    Some(match value {
        serde_json::Value::Null => Literal::Null,
        serde_json::Value::Bool(b) => Literal::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Literal::Int(i),
            None => Literal::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => Literal::Str(s.clone()),
        _ => return None,
    })
}

/// A result as the client accepts it: CSV for `Accept: text/csv`, else the
/// JSON array of row objects `--format json` prints.
fn rows(req: &HttpRequest, result: &ResultSet) -> HttpResponse {
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first_known = accept
        .split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .find(|t| t == "text/csv" || t == "application/json");
    if first_known.as_deref() == Some("text/csv") {
        return HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(render(result, Format::Csv));
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(render(result, Format::Json))
}

/// `GET /queries/NAME?param=value`: the saved query `NAME.sql`.
async fn get_saved(req: &HttpRequest, state: &State) -> Result<HttpResponse, Refusal> {
    let name = req.match_info().get("name").unwrap_or("");
    let sql = saved_query(state.queries.as_deref(), name)?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| Refusal::bad_request(format!("the query string: {e}")))?;
    let mut params = Params::new();
    for (key, value) in pairs.into_inner() {
        params.insert(key.trim_start_matches(':').to_string(), param_value(&value));
    }
    let permit = state.permit(Lane::Work)?;
    let result = state
        .ask(permit, |reply| Job::Query { sql, params, reply })
        .await?;
    Ok(rows(req, &result))
}

/// The text of saved query `name` in `dir`: 404 when there is none (the
/// name must be a plain file name: letters, digits, `_`, `-`, `.`).
fn saved_query(dir: Option<&Path>, name: &str) -> Result<String, Refusal> {
    let not_found = |why: String| Refusal::new(StatusCode::NOT_FOUND, why);
    let Some(dir) = dir else {
        return Err(not_found(format!(
            "no saved query '{name}': the server was started without --queries DIR"
        )));
    };
    let path = dir.join(format!("{name}.sql"));
    if !console::plain_name(name) || !path.is_file() {
        return Err(not_found(format!(
            "no saved query '{name}' in {}",
            dir.display()
        )));
    }
    crate::files::read_file(&path, "saved query").map_err(Refusal::from)
}

/// `GET /health`: answered without queueing, from what the owner publishes.
fn health(state: &State) -> HttpResponse {
    let running = state.published.running.load(Ordering::Acquire);
    let mut body = serde_json::Map::new();
    body.insert(
        "status".into(),
        if running { "ok" } else { "stopping" }.into(),
    );
    if !running {
        body.insert("error".into(), "the engine is stopping".into());
    }
    body.insert("schema".into(), state.schema.clone().into());
    let load = |n: &AtomicU64| serde_json::Value::from(n.load(Ordering::Acquire));
    body.insert("lines".into(), load(&state.published.lines));
    body.insert("accepted".into(), load(&state.published.accepted));
    body.insert("queue_depth".into(), state.queue.depth().into());
    body.insert("queue_capacity".into(), state.queue.capacity().into());
    let status = if running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(serde_json::Value::Object(body))
}

/// `GET /metrics`: a control-lane job, so a full work queue still scrapes.
async fn get_metrics(state: &State) -> Result<HttpResponse, Refusal> {
    let permit = state.permit(Lane::Control)?;
    let (stats, latency) = state.ask(permit, |reply| Job::Metrics { reply }).await?;
    let figures = ServerFigures {
        overloaded: state.overloaded.load(Ordering::Relaxed),
        queue_depth: state.queue.depth(),
        queue_capacity: state.queue.capacity(),
        hit_streams: state.hits.subscribers(),
        hits_published: state.hits.published.load(Ordering::Relaxed),
        hits_dropped: state.hits.dropped.load(Ordering::Relaxed),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(&stats, &latency, &figures)))
}

/// `GET /hits`: a Server-Sent Events stream of rule hits.
fn get_hits(state: &State) -> Result<HttpResponse, Refusal> {
    let stream = state.hits.subscribe().ok_or_else(Refusal::stopping)?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(stream.map(Ok::<_, std::convert::Infallible>)))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}; GET /openapi.json lists them",
            req.method(),
            req.path()
        ),
    )
    .response()
}

/// `405`, with the `Allow` header naming the one method the path answers.
async fn method_not_allowed(req: HttpRequest, allow: &'static str) -> HttpResponse {
    let mut response = Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}; it answers {allow}",
            req.method(),
            req.path()
        ),
    )
    .response();
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    response
}
