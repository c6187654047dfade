//! Long lines that arrive faster than anyone types: echoed once, not
//! redrawn at every wrap.
//!
//! rustyline redraws the whole line each time the cursor reaches the end of
//! a row, so a 60 KB line pasted without bracketed-paste markers (a
//! terminal or multiplexer that sends none, `tmux send-keys`, an `expect`
//! script) or typed ahead while a statement ran costs about 22 MB of
//! terminal output at 80 columns: quadratic in the line. A bracketed paste
//! is one insertion and one redraw already (see `repl::interactive`).
//!
//! [`Burst`] is bound to every key. When a plain character arrives within
//! [`BURST_GAP`] of the previous key, at the end of a line already
//! [`EDITOR_CHARS`] long, it and the characters after it are kept aside and
//! echoed as they come, so the terminal wraps them and rustyline draws
//! nothing. Enter accepts the line with them; Ctrl-C drops it; any other
//! key (an edit) hands the kept text to the editor, which redraws the line
//! once, and is itself dropped: press it again. The repl appends
//! [`Burst::take_aside`] to what rustyline returns.
//!
//! Owns: the burst test and the echo. Not: reading lines or running them.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustyline::{Cmd, ConditionalEventHandler, Event, EventContext, KeyCode, KeyEvent, Modifiers};
use unicode_width::UnicodeWidthChar;

/// Keys closer together than this are not typed by hand: a person's
/// fastest keys, and key repeat, are 10 ms or more apart; a paste's are
/// microseconds apart.
const BURST_GAP: Duration = Duration::from_millis(2);
/// The editor keeps this many characters of a burst line, drawn its way;
/// what follows is echoed. Redrawing at most this much at each wrap keeps
/// the cost linear in the line, and a line this short stays editable.
const EDITOR_CHARS: usize = 256;

/// The key handler, shared with the repl (rustyline owns one copy).
#[derive(Clone, Default)]
pub struct Burst(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    /// When the previous key arrived, to tell a burst from typing.
    last_key: Option<Instant>,
    /// Characters kept from the editor and echoed by us; empty outside a
    /// burst.
    aside: String,
    /// Terminal cells echoed for `aside` (a tab is echoed as one space).
    echoed: usize,
    /// The column of the editor's cursor when `aside` began, to move back
    /// there before the editor redraws.
    start_column: usize,
    /// The terminal's width; 0 (unknown) turns bursts off.
    columns: usize,
    /// The prompt's width in cells.
    prompt_width: usize,
    /// The line holds characters whose width we cannot follow as rustyline
    /// does (wide, combining, control): no burst for it, and the test is
    /// not repeated at every key.
    ineligible: bool,
}

impl Burst {
    /// Called before each line: the terminal's width (`None` when stdout is
    /// not a terminal) and the prompt.
    pub fn start_line(&self, columns: Option<u16>, prompt: &str) {
        if let Ok(mut state) = self.0.lock() {
            state.aside.clear();
            state.echoed = 0;
            state.columns = columns.map_or(0, usize::from);
            state.ineligible = !all_single_width(prompt);
            state.prompt_width = prompt.chars().count();
        }
    }

    /// The text kept aside from the line rustyline just returned: it
    /// follows that line.
    pub fn take_aside(&self) -> String {
        self.0
            .lock()
            .map(|mut state| {
                state.echoed = 0;
                std::mem::take(&mut state.aside)
            })
            .unwrap_or_default()
    }
}

impl ConditionalEventHandler for Burst {
    fn handle(&self, event: &Event, n: u16, _: bool, ctx: &EventContext) -> Option<Cmd> {
        let now = Instant::now();
        let mut state = self.0.lock().ok()?;
        let burst = state.last_key.is_some_and(|t| now - t < BURST_GAP);
        state.last_key = Some(now);
        let Event::KeySeq(keys) = event else {
            return state.hand_over();
        };
        let aside = !state.aside.is_empty();
        match keys.as_slice() {
            [KeyEvent(KeyCode::Char(c), Modifiers::NONE)] if n == 1 && single_width(*c) => {
                if aside || (burst && state.begins(ctx)) {
                    state.echo(*c, *c);
                    Some(Cmd::Noop)
                } else {
                    None
                }
            }
            [KeyEvent(KeyCode::Tab, Modifiers::NONE)] if aside => {
                state.echo('\t', ' ');
                Some(Cmd::Noop)
            }
            [KeyEvent(KeyCode::Enter, Modifiers::NONE)]
            | [KeyEvent(KeyCode::Char('J'), Modifiers::CTRL)]
                if aside =>
            {
                Some(Cmd::AcceptLine)
            }
            [KeyEvent(KeyCode::Char('C'), Modifiers::CTRL)] if aside => {
                state.aside.clear();
                state.echoed = 0;
                Some(Cmd::Interrupt)
            }
            _ => state.hand_over(),
        }
    }
}

impl State {
    /// Whether a burst character at this point starts keeping text aside:
    /// at the end of a long line whose layout we can follow.
    fn begins(&mut self, ctx: &EventContext) -> bool {
        let line = ctx.line();
        if self.columns == 0
            || self.ineligible
            || line.len() < EDITOR_CHARS
            || ctx.pos() != line.len()
        {
            return false;
        }
        if !all_single_width(line) {
            self.ineligible = true;
            return false;
        }
        let chars = line.chars().count();
        if chars < EDITOR_CHARS {
            return false;
        }
        // rustyline's cursor: at the end of the line, on a new row when
        // the line just filled one.
        self.start_column = (self.prompt_width + chars) % self.columns;
        true
    }

    /// Keeps `kept` aside and shows `shown` (one cell) in its place.
    fn echo(&mut self, kept: char, shown: char) {
        self.aside.push(kept);
        self.echoed += 1;
        let mut out = std::io::stdout().lock();
        let mut bytes = [0; 4];
        // The echo is a courtesy: a terminal that cannot take it fails the
        // editor's next write too, which reports it.
        let _ = out
            .write_all(shown.encode_utf8(&mut bytes).as_bytes())
            .and_then(|()| out.flush());
    }

    /// Gives the text kept aside to the editor (`None` when there is none:
    /// the key does what it always does). The terminal's cursor goes back
    /// to where the editor left it, so its redraw starts from the right
    /// row.
    fn hand_over(&mut self) -> Option<Cmd> {
        if self.aside.is_empty() {
            return None;
        }
        let rows_up = rows_below(self.start_column + self.echoed, self.columns);
        let mut moves = String::from("\r");
        if rows_up > 0 {
            moves += &format!("\x1b[{rows_up}A");
        }
        if self.start_column > 0 {
            moves += &format!("\x1b[{}C", self.start_column);
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(moves.as_bytes()).and_then(|()| out.flush());
        self.echoed = 0;
        Some(Cmd::Insert(1, std::mem::take(&mut self.aside)))
    }
}

/// The row, counted from the first, of the cursor after writing `cells`
/// cells from the start of a row `columns` wide. After writing the last
/// cell of a row the cursor stays on that row, until the next cell.
fn rows_below(cells: usize, columns: usize) -> usize {
    match cells {
        0 => 0,
        _ => (cells - 1) / columns,
    }
}

fn single_width(c: char) -> bool {
    c.width() == Some(1)
}

fn all_single_width(text: &str) -> bool {
    text.chars().all(single_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_stays_on_a_row_until_a_cell_past_its_end() {
        assert_eq!(rows_below(0, 80), 0);
        assert_eq!(rows_below(15, 80), 0);
        assert_eq!(rows_below(80, 80), 0, "the last cell of the row");
        assert_eq!(rows_below(81, 80), 1);
        assert_eq!(rows_below(160, 80), 1);
        assert_eq!(rows_below(161, 80), 2);
    }

    #[test]
    fn nothing_kept_aside_leaves_every_key_alone() {
        assert!(State::default().hand_over().is_none());
    }
}
