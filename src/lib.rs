//! tally: rolling-window analytics over JSON event streams, answered by
//! actors that keep every window up to date as events arrive.
//!
//! # The life of an event
//!
//! 1. [`ingest::Merge`] reads lines from one or more time-sorted files
//!    (k-way merged by event time) and [`event::LineParser`] pulls the
//!    schema's fields out of each in one pass: time, id, actor keys,
//!    dimensions, metrics. A bad line becomes a counted, reasoned reject.
//! 2. [`ingest::Admission`] moves the clock, drops duplicates (by id, over
//!    the retention horizon), late events and absurd future jumps (the
//!    future guard), and interns the event's dimension values as a *cell*.
//!    The accepted line is kept in the engine's ring of recent events, for
//!    raw-event queries.
//! 3. The [`Engine`] hands batches of 4,096 events to the router actor,
//!    which marks each event for the shards that host its entities (one
//!    per actor key, by hash) and its *home* shard for the global state.
//! 4. Each shard (an actix actor on its own thread) adds the event to the
//!    entities it hosts — one per key of each actor kind: plain structs,
//!    virtual actors activated on their first event — and to its share of
//!    the global state.
//! 5. An entity's state is [`window::PaneStore`]: sparse 1-second panes for
//!    the last hour and 1-minute panes beyond, each a partial aggregate
//!    per cell (an entity's first few events are kept packed in one
//!    allocation, until it outgrows them). Old seconds fold into minutes;
//!    panes past retention expire, and an entity with none left is
//!    passivated.
//! 6. If continuous rules ([`rules`]) are in force for its kind, the entity
//!    then evaluates them over the windows the event changed; a condition
//!    that becomes true is a hit, returned with the batch's reply and
//!    counted, kept and written by the engine (`--emit`, `FROM rule_hits`).
//!
//! # The life of a query
//!
//! 1. [`query::parse`] tokenizes the text, handles tally's extensions on
//!    tokens (`WINDOW d`, `EXPLAIN`, `SHOW`, `CREATE RULE`, `DROP RULE`),
//!    and lowers sqlparser's AST (which reads `TOP k` itself) into tally's
//!    small [`query::Statement`].
//! 2. [`query::plan()`] resolves columns against the schema, evaluates WHERE
//!    and FILTER once per cell, and picks a route: one entity (a point
//!    query), every entity of an actor kind (fan-out) or the global state.
//!    A query without aggregates is planned by [`query::plan_raw`] over
//!    recent events.
//! 3. The engine sends the plan's scan straight to the shards that hold
//!    the state, chosen by the router's own key → shard function (events go
//!    through the router actor, queries need not: two thread hops fewer);
//!    each folds the panes inside the window into partial aggregates per
//!    group — or, when groups never span shards, finishes them itself.
//! 4. The engine merges the partials, computes the final values, HAVING,
//!    ORDER BY and LIMIT, and returns a [`ResultSet`], which the shell
//!    prints as a table, CSV or JSON.
//!
//! docs/architecture.md draws the module map; `tests/layers.rs` checks that
//! imports point down it. The engine builds alone with
//! `--no-default-features`: the command-line tools (`cli`, `shell`,
//! `server`, `bench`, `generator`) and their crates are the default `cli` feature.
#[cfg(feature = "cli")]
pub mod bench;
#[cfg(feature = "cli")]
pub mod cli;
pub mod codec;
pub mod count;
pub mod engine;
pub mod error;
pub mod event;
pub mod files;
#[cfg(feature = "cli")]
pub mod generator;
pub mod hash;
pub mod ingest;
pub mod query;
pub mod rules;
#[cfg(feature = "cli")]
pub mod server;
#[cfg(feature = "cli")]
pub mod shell;
pub mod storage;
pub mod time;
pub mod value;
pub mod window;

pub use engine::{Clock, Config, Engine};
pub use error::{Error, Result};
pub use value::{ResultSet, Value};
