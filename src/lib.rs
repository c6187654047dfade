//! tally: rolling-window analytics over JSON event streams, answered by
//! actors that keep every window up to date as events arrive.
pub mod bench;
pub mod engine;
pub mod error;
pub mod event;
pub mod gen;
pub mod ingest;
pub mod query;
pub mod shell;
pub mod time;
pub mod value;
pub mod window;

pub use engine::{Clock, Config, Engine};
pub use error::{Error, Result};
pub use value::{ResultSet, Value};
