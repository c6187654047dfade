//! The progress line of long ingests: events so far, events/s and rejected
//! lines, redrawn in place on stderr.
//!
//! It shows only when stderr is a terminal (pipes and logs stay quiet),
//! redraws at most about four times a second whatever the callback rate,
//! and erases itself when the ingest ends (when the callback is dropped), so
//! the summary that follows starts on a clean line.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::ingest::IngestProgress;

/// The time between two redraws.
const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// A progress callback for [`crate::Engine::ingest_files`].
pub fn progress_printer() -> impl FnMut(&IngestProgress) {
    let stderr = std::io::stderr();
    let mut line = ProgressLine::new(stderr.is_terminal().then_some(stderr));
    move |progress| line.update(progress)
}

/// The state of the progress line on one terminal.
struct ProgressLine<W: Write> {
    /// `None` when the output is not a terminal: nothing is drawn.
    out: Option<W>,
    /// Ingest time (from the progress reports) of the next redraw, so a
    /// quick ingest never flashes a line.
    next: Duration,
    /// Whether a line is on screen and must be erased at the end.
    shown: bool,
}

impl<W: Write> ProgressLine<W> {
    fn new(out: Option<W>) -> Self {
        ProgressLine {
            out,
            next: REDRAW_EVERY,
            shown: false,
        }
    }

    fn update(&mut self, progress: &IngestProgress) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        if progress.elapsed < self.next {
            return;
        }
        self.next = progress.elapsed + REDRAW_EVERY;
        // `\r` back to the start, ESC[K erases what a longer line left.
        // A failed write to stderr is not worth failing an ingest for.
        let _ = write!(out, "\r\x1b[K{}", progress_text(progress));
        let _ = out.flush();
        self.shown = true;
    }
}

impl<W: Write> Drop for ProgressLine<W> {
    fn drop(&mut self) {
        if let (Some(out), true) = (self.out.as_mut(), self.shown) {
            let _ = write!(out, "\r\x1b[K");
            let _ = out.flush();
        }
    }
}

/// `1,234,567 events  812,345 events/s  12 rejected`
fn progress_text(p: &IngestProgress) -> String {
    let secs = p.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (p.accepted as f64 / secs) as u64
    } else {
        0
    };
    format!(
        "{} events  {} events/s  {} rejected",
        thousands(p.accepted),
        thousands(rate),
        thousands(p.rejected)
    )
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, accepted: u64, rejected: u64) -> IngestProgress {
        IngestProgress {
            lines: accepted + rejected,
            accepted,
            rejected,
            elapsed: Duration::from_millis(ms),
        }
    }

    #[test]
    fn text_reads_well() {
        assert_eq!(
            progress_text(&at(2_000, 1_234_567, 12)),
            "1,234,567 events  617,283 events/s  12 rejected"
        );
        assert_eq!(
            progress_text(&at(0, 0, 0)),
            "0 events  0 events/s  0 rejected"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn throttles_and_erases_itself() {
        let mut screen = Vec::new();
        {
            let mut line = ProgressLine::new(Some(&mut screen));
            line.update(&at(100, 1, 0)); // too early: a quick ingest shows nothing
            line.update(&at(300, 3, 0));
            line.update(&at(400, 4, 0)); // within 250 ms of the last redraw
            line.update(&at(600, 6, 1));
        }
        let screen = String::from_utf8(screen).unwrap_or_default();
        assert_eq!(
            screen,
            "\r\x1b[K3 events  10 events/s  0 rejected\
             \r\x1b[K6 events  10 events/s  1 rejected\
             \r\x1b[K"
        );
    }

    #[test]
    fn quick_or_piped_ingests_print_nothing() {
        let mut screen = Vec::new();
        {
            let mut line = ProgressLine::new(Some(&mut screen));
            line.update(&at(10, 1, 0));
        }
        assert!(screen.is_empty());
        let mut piped: ProgressLine<Vec<u8>> = ProgressLine::new(None);
        piped.update(&at(10_000, 1, 0));
        assert!(!piped.shown);
    }
}
