//! One error type for the whole crate, by cause.
//!
//! Input errors (a bad query, a bad flag, a bad schema file) carry what the
//! user needs to fix them: a position, the known names, a hint. Rejected
//! *event lines* are not errors: they are counted by [`crate::event::Reject`]
//! and ingestion goes on.

use std::fmt;

/// The crate-wide result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The statement text does not parse. Carries the position.
    #[error("{0}")]
    Syntax(SyntaxError),
    /// The statement parses but cannot be answered: an unknown column, an
    /// aggregate in WHERE, a filter the rolling state does not keep.
    #[error("{0}")]
    Query(String),
    /// A bad flag, parameter, schema file or other user-supplied setting.
    #[error("{0}")]
    InvalidInput(String),
    /// A command line that does not fit together (a `--param` without `=`,
    /// `--follow` on standard input): the invocation is wrong, not the data,
    /// so the command-line tools exit with status 2 for it, as for flags
    /// their parser refuses.
    #[error("{0}")]
    Usage(String),
    /// An I/O failure, with what we were doing when it happened. The
    /// cause is part of the message and deliberately not a `source()`: a
    /// chain printer (`{:#}`) would repeat it.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    /// Data on disk that cannot be trusted: a damaged log or checkpoint, a
    /// data directory from another tally. Says which file and where.
    #[error("{0}")]
    Corrupt(String),
    /// A broken invariant: a bug in tally, never the user's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `query_err!("unknown column '{name}'")`: an [`Error::Query`] built with
/// `format!`, the statement that parses but cannot be answered. The planner
/// and the rules refuse this way dozens of times; one spelling keeps the
/// refusals easy to find and to tell from syntax errors.
macro_rules! query_err {
    ($($arg:tt)*) => {
        $crate::error::Error::Query(format!($($arg)*))
    };
}
pub(crate) use query_err;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }
}

/// A syntax error at a 1-based line and column of the statement text.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "syntax error at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}
