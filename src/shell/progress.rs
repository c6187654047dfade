//! The progress display of long ingests, drawn with `indicatif` on stderr:
//! for files, a bar with bytes and percent done, events/s, rejected lines
//! and an ETA; for standard input (whose size is unknown), a spinner with
//! the same counts.
//!
//! It shows only when stderr is a terminal (indicatif hides itself
//! otherwise, so pipes, logs and CI stay quiet), appears only once an ingest
//! has run for a while (the engine's first report comes after 200 ms, so a
//! quick ingest never flashes), redraws at most 20 times a second whatever
//! the callback rate, and erases itself when the ingest ends (when the
//! callback is dropped), so the summary that follows starts on a clean line.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::count::{per_second, thousands};
use crate::ingest::IngestProgress;

/// A progress callback for [`crate::Engine::ingest`] and
/// [`crate::Engine::ingest_files`].
pub fn progress_printer() -> impl FnMut(&IngestProgress) {
    let on_terminal = std::io::stderr().is_terminal();
    let mut display = Progress::new(move || {
        if on_terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    });
    move |progress| display.update(progress)
}

/// The progress display of one ingest.
struct Progress<T: FnMut() -> ProgressDrawTarget> {
    /// Where the bar draws, made when it first shows (a test draws into
    /// memory).
    target: T,
    /// `None` until the first report: nothing is drawn before it.
    bar: Option<ProgressBar>,
}

impl<T: FnMut() -> ProgressDrawTarget> Progress<T> {
    fn new(target: T) -> Self {
        Progress { target, bar: None }
    }

    fn update(&mut self, p: &IngestProgress) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(p.total_bytes, (self.target)());
            bar.set_style(style(p.total_bytes.is_some()));
            bar
        });
        // The message first: setting the position draws, and the first
        // frame would show the bar without its counts.
        bar.set_message(progress_text(p));
        bar.set_position(p.bytes_read);
        if p.total_bytes.is_none() {
            bar.tick();
        }
    }
}

impl<T: FnMut() -> ProgressDrawTarget> Drop for Progress<T> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar when the input size is known, a spinner when it is not.
fn style(sized: bool) -> ProgressStyle {
    let template = if sized {
        "{bar:30.cyan/blue} {percent:>3}%  {bytes}/{total_bytes}  {msg}  ETA {eta}"
    } else {
        "{spinner} {bytes} read  {msg}"
    };
    // The templates are constants, drawn by the tests below (a fallback to
    // indicatif's plain bar would show no percent); a bad one would not
    // fail an ingest.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// `1,234,567 events  812,345 events/s  12 rejected`
fn progress_text(p: &IngestProgress) -> String {
    format!(
        "{} events  {} events/s  {} rejected",
        thousands(p.accepted),
        per_second(p.accepted, p.elapsed),
        thousands(p.rejected)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use indicatif::InMemoryTerm;

    use super::*;

    fn at(ms: u64, accepted: u64, rejected: u64, bytes: (u64, Option<u64>)) -> IngestProgress {
        IngestProgress {
            lines: accepted + rejected,
            accepted,
            rejected,
            elapsed: Duration::from_millis(ms),
            bytes_read: bytes.0,
            total_bytes: bytes.1,
        }
    }

    #[test]
    fn text_reads_well() {
        let p = at(2_000, 1_234_567, 12, (0, None));
        assert_eq!(
            progress_text(&p),
            "1,234,567 events  617,284 events/s  12 rejected"
        );
        assert_eq!(
            progress_text(&at(0, 0, 0, (0, None))),
            "0 events  0 events/s  0 rejected"
        );
    }

    /// Draws into an in-memory terminal and returns what is on it.
    fn screen(reports: &[IngestProgress], keep: bool) -> String {
        let term = InMemoryTerm::new(4, 160);
        let mut progress = Progress::new({
            let term = term.clone();
            move || ProgressDrawTarget::term_like(Box::new(term.clone()))
        });
        for p in reports {
            progress.update(p);
        }
        let before_end = term.contents();
        drop(progress);
        if keep {
            before_end
        } else {
            term.contents()
        }
    }

    #[test]
    fn a_file_shows_percent_counts_and_eta() {
        let mib = 1 << 20;
        let shown = screen(&[at(1_000, 40_000, 3, (mib / 4, Some(mib)))], true);
        assert!(shown.contains(" 25%"), "{shown}");
        assert!(shown.contains("256.00 KiB/1.00 MiB"), "{shown}");
        assert!(
            shown.contains("40,000 events  40,000 events/s  3 rejected"),
            "{shown}"
        );
        assert!(shown.contains("ETA "), "{shown}");
    }

    #[test]
    fn stdin_shows_a_spinner_without_percent() {
        let shown = screen(&[at(1_000, 5, 0, (2048, None))], true);
        assert!(shown.contains("2.00 KiB read  5 events"), "{shown}");
        assert!(!shown.contains('%'), "{shown}");
    }

    #[test]
    fn the_display_erases_itself_at_the_end() {
        let shown = screen(&[at(1_000, 5, 0, (10, Some(100)))], false);
        assert_eq!(shown.trim(), "", "{shown}");
        // Nothing reported, nothing drawn: a quick ingest never flashes.
        assert_eq!(screen(&[], false).trim(), "");
    }
}
