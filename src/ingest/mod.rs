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

impl std::fmt::Display for IngestSummary {
    /// The closing summary of an ingest: totals, rate, and each reason.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let rejected: u64 = self.rejected.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{} lines: {} accepted, {} rejected in {:.2}s ({:.0} lines/s)",
            self.lines,
            self.accepted,
            rejected,
            secs,
            self.lines as f64 / secs
        )?;
        for (reason, n) in self.rejected.iter().filter(|(_, n)| *n > 0) {
            write!(f, "\n  rejected.{reason}: {n}")?;
        }
        Ok(())
    }
}
