//! Ingest: from lines to admitted events.
//!
//! [`Merge`] reads sources line by line (several files merged by time), the
//! [`crate::event::LineParser`] types each line, and [`Admission`] applies
//! the clock, the future guard and de-duplication. Every rejected line is
//! counted by reason in [`Counters`] and, when asked, written to a
//! [`RejectFile`]. What comes out is a stream of [`crate::event::Event`]s for
//! the engine to route.
mod admission;
mod cells;
mod history;
mod position;
mod reject;
mod source;

use std::time::Duration;

pub use admission::JUMP_CONFIRMATIONS;
pub use admission::{Admission, Limits, Origin, Rejected, SavedAdmission, Verdicts};
pub use cells::{CellDictionary, CellInterner, MAX_CELLS};
pub use history::IdHistory;
pub use position::{FileIdentity, SourcePosition};
pub use reject::RejectFile;
pub use source::{parse_line, read_line_bounded, Line, Merge, MAX_LINE_BYTES, UTF8_BOM};

use crate::count::{per_second, thousands};
use crate::event::Reason;

/// Lines read, accepted and rejected by reason, over the engine's life.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub lines: u64,
    pub accepted: u64,
    /// Indexed like [`Reason::ALL`].
    pub rejected: [u64; 6],
}

impl Counters {
    pub fn reject(&mut self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.rejected[i] += 1;
        }
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// The counters as `(reason name, count)` pairs, in reason order.
    pub fn by_reason(&self) -> Vec<(&'static str, u64)> {
        Reason::ALL
            .iter()
            .zip(self.rejected)
            .map(|(r, n)| (r.name(), n))
            .collect()
    }

    /// What changed between `before` and `self`, as a summary.
    pub fn since(&self, before: &Counters, elapsed: Duration) -> IngestSummary {
        let mut rejected = self.by_reason();
        for ((_, n), b) in rejected.iter_mut().zip(before.rejected) {
            *n -= b;
        }
        IngestSummary {
            lines: self.lines - before.lines,
            accepted: self.accepted - before.accepted,
            rejected,
            elapsed,
            no_id_schema: None,
        }
    }
}

/// The note of a schema without an id field, for the ingest summary, the
/// generator and `.schema`.
pub fn cannot_deduplicate(schema: &str) -> String {
    format!(
        "schema {schema} has no id field: duplicate lines cannot be told from new events, \
         and every one is counted (give a schema file an \"id\" to de-duplicate)"
    )
}

/// Running totals handed to a progress callback during long ingests.
#[derive(Debug, Clone, Default)]
pub struct IngestProgress {
    pub lines: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub elapsed: Duration,
    /// Input bytes read so far.
    pub bytes_read: u64,
    /// The size of the whole input when known (files, not standard input):
    /// with it a progress bar shows percent done and an ETA.
    pub total_bytes: Option<u64>,
}

/// What an ingest did, printed at its end.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    pub lines: u64,
    pub accepted: u64,
    /// Rejected lines by reason, in the fixed order of the reasons.
    pub rejected: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
    /// The schema's name when it has no id field: nothing was checked for
    /// duplicates, and `tally ingest` says so under the summary rather than
    /// imply none came.
    pub no_id_schema: Option<String>,
}

impl std::fmt::Display for IngestSummary {
    /// The closing summary of an ingest: totals, rate, and each reason.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rejected: u64 = self.rejected.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{} lines: {} accepted, {} rejected in {:.2}s ({} lines/s)",
            thousands(self.lines),
            thousands(self.accepted),
            thousands(rejected),
            secs,
            per_second(self.lines, self.elapsed)
        )?;
        for (reason, n) in self.rejected.iter().filter(|(_, n)| *n > 0) {
            write!(f, "\n  rejected.{reason}: {}", thousands(*n))?;
        }
        Ok(())
    }
}
