//! Cutting typed or piped text into inputs: SQL statements and dot commands.
//!
//! A statement ends at a `;` that is not inside a string, a quoted
//! identifier or a comment, so it may span lines and a line may hold several.
//! A dot command is one whole line, recognised only where a statement could
//! start. The [`Splitter`] is fed a line at a time, which is exactly what the
//! REPL needs to choose between the prompt and the continuation prompt; a
//! piped script goes through the same code.
//!
//! It does not parse SQL: the engine does, and reports syntax errors.

/// One unit of work for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// A dot command line, trimmed, e.g. `.mode csv`.
    Command(String),
    /// One statement's text, trimmed, including its closing `;` (absent only
    /// for an unterminated statement at the end of a script).
    Statement(String),
    /// A statement longer than [`MAX_STATEMENT_BYTES`], or a line longer
    /// than that: skipped, and reported as a failed input.
    TooLong,
}

/// The longest statement the shell keeps: past it, the rest is scanned
/// (to find where the statement ends) but not kept, so a shell reading
/// `/dev/zero` or an endless paste holds at most this much.
pub(super) const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Where the scanner is between two characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scan {
    #[default]
    Code,
    /// Inside `'...'`, `"..."` or `` `...` ``; the char is the closing quote.
    /// A doubled quote (`'it''s'`) just closes and reopens.
    Quoted(char),
    /// After `--`, up to the end of the line.
    LineComment,
    /// Inside `/* ... */`, which may span lines.
    BlockComment,
}

/// What a character is, for deciding where statements end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Statement text outside quotes and comments.
    Code,
    /// Part of a string, quoted identifier (both count as content) or comment.
    Quoted,
    Comment,
    /// A `;` that ends the statement.
    End,
}

/// Classifies each char of `line`, starting from and updating `scan`. A line
/// comment is left open: the caller decides what a line end means.
fn scan_line(scan: &mut Scan, line: &str, mut visit: impl FnMut(char, Class)) {
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let class = match *scan {
            Scan::Quoted(close) => {
                if c == close {
                    *scan = Scan::Code;
                }
                Class::Quoted
            }
            Scan::LineComment => Class::Comment,
            Scan::BlockComment => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    visit(c, Class::Comment);
                    visit('/', Class::Comment);
                    *scan = Scan::Code;
                    continue;
                }
                Class::Comment
            }
            Scan::Code => match (c, next) {
                ('\'' | '"' | '`', _) => {
                    *scan = Scan::Quoted(c);
                    Class::Quoted
                }
                ('-', Some('-')) => {
                    *scan = Scan::LineComment;
                    Class::Comment
                }
                ('/', Some('*')) => {
                    chars.next();
                    visit(c, Class::Comment);
                    visit('*', Class::Comment);
                    *scan = Scan::BlockComment;
                    continue;
                }
                (';', _) => Class::End,
                _ => Class::Code,
            },
        };
        visit(c, class);
    }
}

/// What the line editor needs to know of the statement being typed, without
/// its text: copied before every prompt, so a paste of many lines costs no
/// copy of what came before each of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Pending {
    scan: Scan,
    has_content: bool,
}

impl Pending {
    /// See [`Splitter::is_pending`].
    pub(super) fn is_pending(&self) -> bool {
        self.has_content || self.scan != Scan::Code
    }

    /// Whether byte position `pos` of `line`, typed after the pending
    /// text, is inside a string, quoted identifier or comment: completion
    /// offers nothing there.
    pub(super) fn in_literal_or_comment(&self, line: &str, pos: usize) -> bool {
        let mut scan = self.scan;
        scan_line(&mut scan, line.get(..pos).unwrap_or(line), |_, _| {});
        scan != Scan::Code
    }
}

/// Accumulates lines until statements are complete.
#[derive(Debug, Clone, Default)]
pub(super) struct Splitter {
    /// The text of the statement being typed so far.
    buffer: String,
    scan: Scan,
    /// Whether the buffer holds anything but whitespace and comments: a
    /// comment alone neither needs a continuation prompt nor makes a
    /// statement, and a dot command may still follow it.
    has_content: bool,
    /// The statement being typed outgrew [`MAX_STATEMENT_BYTES`]: the rest
    /// of it is dropped, and it ends as [`Input::TooLong`].
    oversized: bool,
}

impl Splitter {
    pub(super) fn new() -> Splitter {
        Splitter::default()
    }

    /// True when a statement has begun but not ended: the REPL then shows
    /// the continuation prompt, and a line starting with `.` is SQL, not a
    /// dot command.
    pub(super) fn is_pending(&self) -> bool {
        self.pending().is_pending()
    }

    /// The state of the statement being typed, for the line editor.
    pub(super) fn pending(&self) -> Pending {
        Pending {
            scan: self.scan,
            has_content: self.has_content,
        }
    }

    /// Forgets the unfinished statement (Ctrl-C).
    pub(super) fn clear(&mut self) {
        *self = Splitter::default();
    }

    /// Feeds one line (without its line end) and returns the inputs it
    /// completed, in order.
    pub(super) fn push_line(&mut self, line: &str) -> Vec<Input> {
        if !self.is_pending() && line.trim_start().starts_with('.') {
            self.clear();
            let command = line.trim();
            // `.mode csv;` is a habit from SQL; the `;` is not an argument.
            let command = command.strip_suffix(';').unwrap_or(command).trim_end();
            return vec![Input::Command(command.to_string())];
        }
        let mut done = Vec::new();
        let mut scan = self.scan;
        scan_line(&mut scan, line, |c, class| {
            let keep = match class {
                Class::End => {
                    if self.oversized {
                        done.push(Input::TooLong);
                    } else if self.has_content {
                        self.buffer.push(';');
                        done.push(Input::Statement(self.buffer.trim().to_string()));
                    }
                    self.buffer.clear();
                    self.has_content = false;
                    self.oversized = false;
                    false
                }
                Class::Quoted => {
                    self.has_content = true;
                    true
                }
                Class::Code => {
                    self.has_content |= !c.is_whitespace();
                    true
                }
                Class::Comment => true,
            };
            if keep {
                if self.buffer.len() < MAX_STATEMENT_BYTES {
                    self.buffer.push(c);
                } else {
                    self.oversized = true;
                }
            }
        });
        if scan == Scan::LineComment {
            scan = Scan::Code;
        }
        self.scan = scan;
        if self.is_pending() {
            if self.buffer.len() < MAX_STATEMENT_BYTES {
                self.buffer.push('\n');
            }
        } else {
            // Only whitespace and comments since the last statement.
            self.buffer.clear();
        }
        done
    }

    /// Ends the input: an unterminated statement is returned as is, so that
    /// `echo 'SELECT COUNT(*) FROM events' | tally shell` works.
    pub(super) fn finish(&mut self) -> Option<Input> {
        let pending = if self.oversized {
            Some(Input::TooLong)
        } else {
            self.has_content
                .then(|| Input::Statement(self.buffer.trim().to_string()))
        };
        self.clear();
        pending
    }

    /// See [`Pending::in_literal_or_comment`].
    #[cfg(test)]
    fn in_literal_or_comment(&self, line: &str, pos: usize) -> bool {
        self.pending().in_literal_or_comment(line, pos)
    }
}

/// Splits a whole script into inputs, line by line, as the REPL does when
/// stdin is piped.
#[cfg(test)]
fn split_script(text: &str) -> Vec<Input> {
    let mut splitter = Splitter::new();
    let mut inputs: Vec<Input> = text.lines().flat_map(|l| splitter.push_line(l)).collect();
    inputs.extend(splitter.finish());
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(s: &str) -> Input {
        Input::Statement(s.to_string())
    }

    fn cmd(s: &str) -> Input {
        Input::Command(s.to_string())
    }

    #[test]
    fn statements_span_lines_and_share_lines() {
        let mut s = Splitter::new();
        assert_eq!(s.push_line("SELECT COUNT(*)"), vec![]);
        assert!(s.is_pending());
        assert_eq!(
            s.push_line("  FROM events;"),
            vec![stmt("SELECT COUNT(*)\n  FROM events;")]
        );
        assert!(!s.is_pending());
        assert_eq!(
            s.push_line("SELECT 1; SELECT 2; SELECT"),
            vec![stmt("SELECT 1;"), stmt("SELECT 2;")]
        );
        assert!(s.is_pending());
        assert_eq!(s.push_line("3;"), vec![stmt("SELECT\n3;")]);
    }

    #[test]
    fn semicolons_in_quotes_and_comments_do_not_end_statements() {
        let script = "SELECT 'a;b', \"c;d\" -- e;f\n/* g;\nh; */ FROM events WHERE x = 'it''s;';";
        assert_eq!(
            split_script(script),
            vec![stmt(
                "SELECT 'a;b', \"c;d\" -- e;f\n/* g;\nh; */ FROM events WHERE x = 'it''s;';"
            )]
        );
    }

    #[test]
    fn an_open_string_keeps_the_statement_pending() {
        let mut s = Splitter::new();
        assert_eq!(s.push_line("SELECT 'abc"), vec![]);
        assert_eq!(s.push_line("def';"), vec![stmt("SELECT 'abc\ndef';")]);
    }

    #[test]
    fn dot_commands_only_where_a_statement_can_start() {
        let script = ".mode csv\n  .timer on;\nSELECT a\n.b FROM events;\n-- note\n.quit\n";
        assert_eq!(
            split_script(script),
            vec![
                cmd(".mode csv"),
                cmd(".timer on"),
                stmt("SELECT a\n.b FROM events;"),
                cmd(".quit"),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_alone_make_nothing() {
        let mut s = Splitter::new();
        assert_eq!(s.push_line("-- just a note;"), vec![]);
        assert!(!s.is_pending());
        assert_eq!(s.push_line("   "), vec![]);
        assert_eq!(s.push_line(";;"), vec![]);
        assert!(!s.is_pending());
        assert_eq!(s.push_line("/* open"), vec![]);
        assert!(s.is_pending(), "inside a block comment");
        assert_eq!(s.push_line("close */"), vec![]);
        assert!(!s.is_pending());
    }

    #[test]
    fn an_unterminated_last_statement_still_runs() {
        assert_eq!(
            split_script("SELECT 1;\nSELECT COUNT(*) FROM events\n"),
            vec![stmt("SELECT 1;"), stmt("SELECT COUNT(*) FROM events")]
        );
        assert_eq!(split_script("-- only a comment\n"), vec![]);
    }

    #[test]
    fn clear_drops_the_unfinished_statement() {
        let mut s = Splitter::new();
        s.push_line("SELECT 'oops");
        s.clear();
        assert!(!s.is_pending());
        assert_eq!(s.push_line(".help"), vec![cmd(".help")]);
    }

    #[test]
    fn knows_when_the_cursor_is_in_a_literal_or_comment() {
        let s = Splitter::new();
        assert!(s.in_literal_or_comment("SELECT 'us", 10));
        assert!(!s.in_literal_or_comment("SELECT 'a' , us", 15));
        assert!(s.in_literal_or_comment("SELECT x -- us", 14));
        assert!(!s.in_literal_or_comment("SELECT us", 9));
        let mut open = Splitter::new();
        open.push_line("SELECT /* a");
        assert!(open.in_literal_or_comment("us", 2));
    }

    /// Item 18 of the hostile-input issue: a statement past the cap is
    /// dropped as it grows, reported once, and the next one is whole.
    #[test]
    fn a_statement_past_the_cap_is_dropped_not_kept() {
        let mut s = Splitter::new();
        let line = "x".repeat(64 << 10);
        for _ in 0..(2 * MAX_STATEMENT_BYTES / line.len()) {
            assert!(s.push_line(&line).is_empty());
            assert!(s.buffer.len() <= MAX_STATEMENT_BYTES);
        }
        assert_eq!(
            s.push_line("; SELECT 1;"),
            vec![Input::TooLong, stmt("SELECT 1;")]
        );
        assert!(s.push_line(&line).is_empty());
        assert!(s.push_line(&line.repeat(20)).is_empty());
        assert_eq!(s.finish(), Some(Input::TooLong));
    }
}
