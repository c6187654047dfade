//! The window rule, written once: which pane size a window uses, which
//! windows are allowed, and which events a window contains.
//!
//! Windows up to an hour use 1-second panes, longer ones 1-minute panes.
//! With pane size P, an event at `ts` is inside the window of length `d`
//! ending at `now` when `floor(ts/P) > floor(now/P) − d/P` (and `ts ≤
//! now`). Aggregates, raw-event queries and rules all build their window
//! with [`WindowSpec::new`], so they accept and refuse the same windows and
//! count the same events.

use crate::error::{Error, Result};
use crate::time::{format_duration, Millis};

/// Fine panes cover the last hour; windows longer than this use minutes.
pub const FINE_SPAN_SECS: i64 = 3600;

/// Which panes a window reads and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length in milliseconds (a whole number of panes).
    pub length_ms: Millis,
    /// The clock: the end of the window.
    pub now_ms: Millis,
}

impl WindowSpec {
    /// The window of `length_ms` ending at `now_ms` (`None` before the
    /// first event: every window is then empty), refused unless it is a
    /// whole number of its panes and no longer than `retention_ms`.
    pub fn new(length_ms: Millis, now_ms: Option<Millis>, retention_ms: Millis) -> Result<Self> {
        let refuse = |why: String| Err(Error::Query(why));
        if length_ms > retention_ms {
            return refuse(format!(
                "WINDOW {} is longer than the retention of {}; start tally with --retention {}",
                format_duration(length_ms),
                format_duration(retention_ms),
                format_duration(length_ms)
            ));
        }
        if length_ms < 1000 || length_ms % 1000 != 0 {
            return refuse(format!(
                "WINDOW {}: windows are whole seconds (panes are 1 s)",
                format_duration(length_ms)
            ));
        }
        if WindowSpec::pane_secs_of(length_ms) == 60 && length_ms % 60_000 != 0 {
            return refuse(format!(
                "WINDOW {}: windows over 1h use 1-minute panes; use a whole number of minutes",
                format_duration(length_ms)
            ));
        }
        // Before the first event every window is empty: put now before time.
        let now_ms = now_ms.unwrap_or(Millis::MIN / 4);
        Ok(WindowSpec { length_ms, now_ms })
    }

    /// Pane size in seconds of a window of `length_ms`: 1 up to an hour,
    /// 60 beyond.
    pub fn pane_secs_of(length_ms: Millis) -> i64 {
        if length_ms <= FINE_SPAN_SECS * 1000 {
            1
        } else {
            60
        }
    }

    /// Pane size in seconds of this window.
    pub fn pane_secs(&self) -> i64 {
        WindowSpec::pane_secs_of(self.length_ms)
    }

    /// The number of panes the window spans.
    pub fn panes(&self) -> i64 {
        self.length_ms / (1000 * self.pane_secs())
    }

    /// The first pane (in units of [`Self::pane_secs`]) inside the window:
    /// a pane p counts when p > floor(now/P) − d/P.
    pub fn first_pane(&self) -> i64 {
        let p = self.pane_secs();
        self.now_ms.div_euclid(1000 * p) - self.length_ms / (1000 * p) + 1
    }

    /// Whether an event at `ts_ms` is inside the window.
    pub fn contains(&self, ts_ms: Millis) -> bool {
        let p = self.pane_secs();
        ts_ms.div_euclid(1000 * p) >= self.first_pane() && ts_ms <= self.now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;

    #[test]
    fn every_query_kind_refuses_the_same_windows() {
        let ok = |ms| WindowSpec::new(ms, Some(0), DAY).is_ok();
        assert!(ok(1000));
        assert!(ok(3_600_000));
        assert!(ok(3_660_000));
        assert!(ok(DAY));
        assert!(!ok(500), "under a second");
        assert!(!ok(1500), "not whole seconds");
        assert!(!ok(5_430_000), "90.5 minutes: over 1 h, not whole minutes");
        assert!(!ok(DAY + 60_000), "longer than retention");
    }

    #[test]
    fn edges_are_exact_at_pane_resolution() {
        let w = WindowSpec::new(60_000, Some(120_500), DAY).unwrap();
        assert_eq!(w.pane_secs(), 1);
        assert_eq!(w.panes(), 60);
        assert!(w.contains(61_000) && !w.contains(60_999) && !w.contains(120_501));
        let w = WindowSpec::new(2 * 3_600_000, Some(7_230_000), DAY).unwrap();
        assert_eq!((w.pane_secs(), w.panes()), (60, 120));
        assert!(w.contains(60_000) && !w.contains(59_999));
        let before_any_event = WindowSpec::new(60_000, None, DAY).unwrap();
        assert!(!before_any_event.contains(0));
    }
}
