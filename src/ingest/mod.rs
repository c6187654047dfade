//! Ingest: from lines to admitted events.
use std::time::Duration;

/// Running totals handed to a progress callback during long ingests.
#[derive(Debug, Clone, Default)]
pub struct IngestProgress {
    pub lines: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub elapsed: Duration,
}

/// What an ingest did, printed at its end.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    pub lines: u64,
    pub accepted: u64,
    /// Rejected lines by reason, in the fixed order of the reasons.
    pub rejected: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
}
