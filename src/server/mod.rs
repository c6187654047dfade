//! `tally serve`: the engine as a live HTTP service (actix-web).
//!
//! The life of a request:
//!
//! 1. an actix-web worker accepts the connection and routes the request
//!    (`routes`); a request that gives the engine work takes a permit of
//!    the bounded queue first (`queue`) — none free means `503` with
//!    `Retry-After`, before the body is read;
//! 2. the body is read within `--max-body` (`body`: `413` past it) and
//!    turned into a [`owner::Job`]: NDJSON lines, or a statement;
//! 3. the engine owner (`owner`), the one thread that drives the
//!    [`Engine`], takes jobs in queue order: it ingests a batch (applied
//!    by the shards and committed to the log before it answers) or runs a
//!    statement, and answers on the job's reply channel;
//! 4. the worker renders the answer: counts, rows as JSON or CSV (the
//!    shell's formats), or a JSON error (`reply`).
//!
//! `/health` is answered from counters the owner publishes, `/metrics`
//! through a small lane of its own, and `/hits` streams rule hits as
//! Server-Sent Events (`hits`). [`Server::stop`] (or SIGTERM / Ctrl-C with
//! [`ServeOptions::signals`]) stops accepting, lets every accepted request
//! finish, then stops the owner, which applies what it holds.
//!
//! This module owns the HTTP side only: what an event or a query does is
//! the engine's.

mod body;
mod console;
mod hits;
mod metrics;
mod owner;
mod queue;
mod reply;
mod routes;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};

use crate::engine::Engine;
use crate::error::{Error, Result};
use hits::HitHub;
use owner::Published;
use queue::Queue;
use routes::State;

/// Builds the engine on the owner thread (an engine stays on the thread
/// that started it).
pub type EngineFactory = Box<dyn FnOnce() -> Result<Engine> + Send>;

/// The default `--max-body`: 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;
/// The default queue capacity: requests queued for the engine (or
/// running) before the next is answered 503.
pub const DEFAULT_QUEUE: usize = 64;

/// How a server listens and what it serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT`; port 0 picks a free one ([`Server::addr`] says which).
    pub listen: String,
    /// Largest request body, in bytes (`413` past it).
    pub max_body: usize,
    /// Requests queued for the engine before `503`.
    pub queue: usize,
    /// The saved queries `GET /queries/NAME` serves (`NAME.sql`).
    pub queries: Option<PathBuf>,
    /// HTTP worker threads; `None` is actix-web's default (one per core).
    pub workers: Option<usize>,
    /// Stop on SIGTERM and Ctrl-C (the binary); tests stop with
    /// [`Server::stop`] instead.
    pub signals: bool,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            listen: "127.0.0.1:7070".into(),
            max_body: DEFAULT_MAX_BODY,
            queue: DEFAULT_QUEUE,
            queries: None,
            workers: None,
            signals: false,
        }
    }
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    handle: ServerHandle,
    hits: Arc<HitHub>,
    /// The HTTP system's thread: ends when the server has stopped and the
    /// owner has finished, with the owner's result.
    thread: JoinHandle<Result<()>>,
}

impl Server {
    /// Starts the engine (on its owner thread), binds `options.listen` and
    /// serves. Returns once requests are taken.
    pub fn start(options: ServeOptions, factory: EngineFactory) -> Result<Server> {
        let (queue, jobs) = Queue::new(options.queue);
        let hits = Arc::new(HitHub::new());
        let published = Arc::new(Published::default());
        let (owner, schema) = owner::spawn(factory, jobs, hits.clone(), published.clone())?;
        let listener = TcpListener::bind(&options.listen)
            .map_err(|e| Error::io(format!("listening on {}", options.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let state = web::Data::new(State {
            queue,
            hits: hits.clone(),
            published,
            max_body: options.max_body,
            queries: options.queries.clone(),
            schema,
            overloaded: AtomicU64::new(0),
        });
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let http_hits = hits.clone();
        let thread = std::thread::Builder::new()
            .name("tally-http".into())
            .spawn(move || serve_http(options, listener, state, owner, http_hits, handle_tx))
            .map_err(|e| Error::io("starting the HTTP thread", e))?;
        let handle = handle_rx
            .recv()
            .map_err(|_| Error::Internal("the HTTP server failed to start".into()))??;
        Ok(Server {
            addr,
            handle,
            hits,
            thread,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts a graceful stop: no new connections, `/hits` streams end,
    /// accepted requests finish. [`Server::join`] waits for the end.
    pub fn stop(&self) {
        begin_stop(&self.hits, &self.handle);
    }

    /// Waits until the server has stopped (by [`Server::stop`] or a
    /// signal) and the engine owner has applied what it held.
    pub fn join(self) -> Result<()> {
        self.thread
            .join()
            .map_err(|_| Error::Internal("the HTTP thread panicked".into()))?
    }
}

/// The stop sequence both [`Server::stop`] and the signals run.
fn begin_stop(hits: &HitHub, handle: &ServerHandle) {
    hits.close();
    // The command is sent when `stop` is called; its future only reports
    // completion, which `join` waits for instead.
    drop(handle.stop(true));
}

/// The HTTP thread: an actix system running the server until it stops,
/// then the owner's stop.
fn serve_http(
    options: ServeOptions,
    listener: TcpListener,
    state: web::Data<State>,
    owner: JoinHandle<Result<()>>,
    hits: Arc<HitHub>,
    handle_tx: std::sync::mpsc::Sender<Result<ServerHandle>>,
) -> Result<()> {
    let system = actix_web::rt::System::new();
    let app_state = state.clone();
    let served = system.block_on(async move {
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .configure(routes::routes)
        })
        .disable_signals()
        .shutdown_timeout(30);
        if let Some(n) = options.workers {
            server = server.workers(n);
        }
        let server = match server.listen(listener) {
            Ok(server) => server.run(),
            Err(e) => {
                let _ = handle_tx.send(Err(Error::io("serving on the listener", e)));
                return Ok(());
            }
        };
        let handle = server.handle();
        if options.signals {
            actix_web::rt::spawn(stop_on_signal(hits, handle.clone()));
        }
        let _ = handle_tx.send(Ok(handle));
        server.await
    });
    // Every accepted request has been answered: the owner may stop.
    state.queue.send_regardless(owner::Job::Stop);
    let owner = owner
        .join()
        .map_err(|_| Error::Internal("the engine owner thread panicked".into()))?;
    served.map_err(|e| Error::io("serving HTTP", e))?;
    owner
}

/// Waits for SIGTERM or Ctrl-C, then stops the server gracefully.
async fn stop_on_signal(hits: Arc<HitHub>, handle: ServerHandle) {
    let ctrl_c = actix_web::rt::signal::ctrl_c();
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                futures::future::select(Box::pin(ctrl_c), Box::pin(term.recv())).await;
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    eprintln!("tally serve: stopping; finishing the requests already accepted");
    begin_stop(&hits, &handle);
}

/// Every route the server answers, as `(method, path)` with the method in
/// lower case: what `openapi.json` must describe (a test checks it).
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes::route_list()
}

/// The OpenAPI 3 description the server serves at `/openapi.json`.
pub fn openapi() -> &'static str {
    routes::OPENAPI
}
