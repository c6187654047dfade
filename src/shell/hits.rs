//! Rule hits as the shell announces them: on stderr, as they are delivered
//! (during `.load` too), in a style of their own so they never pass for
//! query results.
//!
//! A burst of hits must not bury the session: the first
//! [`SHOWN_PER_INPUT`] of each input are printed, the rest are counted and
//! summed up in one line when the input ends. `SHOW RULES` counts them all
//! and `--emit FILE` writes them all.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use crate::engine::Engine;
use crate::rules::Hit;
use crate::time::format_timestamp;

/// Hits printed per input (statement, dot command) before the rest are
/// only counted.
pub(super) const SHOWN_PER_INPUT: usize = 10;

#[derive(Debug, Default)]
struct State {
    shown: usize,
    unshown: u64,
    /// Bold colour and line erasing (over the progress line): on a terminal.
    terminal: bool,
}

/// The shell's hit listener and its per-input count.
pub(super) struct HitNotices(Rc<RefCell<State>>);

impl HitNotices {
    /// Starts announcing `engine`'s hits.
    pub(super) fn install(engine: &mut Engine) -> HitNotices {
        let state = Rc::new(RefCell::new(State {
            terminal: std::io::stderr().is_terminal(),
            ..State::default()
        }));
        let listener = state.clone();
        engine.set_hit_listener(Some(Box::new(move |hit: &Hit| {
            let mut state = listener.borrow_mut();
            if state.shown >= SHOWN_PER_INPUT {
                state.unshown += 1;
                return;
            }
            state.shown += 1;
            let text = hit_line(hit, state.terminal);
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        })));
        HitNotices(state)
    }

    /// Ends an input: says how many hits were not printed, and starts the
    /// count afresh.
    pub(super) fn end_input(&self) {
        let mut state = self.0.borrow_mut();
        if state.unshown > 0 {
            let _ = writeln!(
                std::io::stderr().lock(),
                "[hit] ... and {} more rule hits (SHOW RULES counts them; --emit FILE writes them all)",
                state.unshown
            );
        }
        state.shown = 0;
        state.unshown = 0;
    }
}

/// `[hit] rate_limit users 987654321 window_end=... user_id=987654321 n=21`
fn hit_line(hit: &Hit, terminal: bool) -> String {
    let mut text = String::new();
    if terminal {
        // Back to the start of the line and erase it (a progress line may
        // be there), then the tag in bold yellow.
        text.push_str("\r\x1b[K\x1b[1;33m[hit]\x1b[0m");
    } else {
        text.push_str("[hit]");
    }
    text.push_str(&format!(
        " {} {} {} window_end={}",
        hit.rule,
        hit.kind,
        hit.key,
        format_timestamp(hit.window_end_ms)
    ));
    for (column, value) in hit.columns.iter().zip(&hit.values) {
        text.push_str(&format!(" {column}={value}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn a_hit_reads_as_one_tagged_line() {
        let hit = Hit {
            rule: "rate_limit".into(),
            kind: "users".into(),
            key: Value::Int(7),
            window_end_ms: 1_736_899_261_000,
            columns: vec!["user_id".to_string(), "n".to_string()].into(),
            values: vec![Value::Int(7), Value::Int(21)],
        };
        assert_eq!(
            hit_line(&hit, false),
            "[hit] rate_limit users 7 window_end=2025-01-15T00:01:01.000Z user_id=7 n=21"
        );
        assert!(hit_line(&hit, true).starts_with("\r\x1b[K\x1b[1;33m[hit]"));
    }
}
