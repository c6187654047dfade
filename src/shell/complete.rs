//! Tab completion: SQL keywords, the schema's columns (dotted nested ones
//! too), dot command names at the start of an input, and file names after
//! `.load` and `.output`.
//!
//! [`candidates`] is the pure rule; [`ShellHelper`] plugs it into rustyline
//! and adds file names. Completion is context-free on purpose: it is cheap,
//! predictable, and the engine reports what does not fit.

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::command::NAMES;
use super::splitter::Pending;

/// Keywords and functions offered by completion, in upper case. `events` is
/// the one relation and is kept as spelled.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "events",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "LIMIT",
    "WINDOW",
    "TOP",
    "COUNT",
    "SUM",
    "MIN",
    "MAX",
    "AVG",
    "MEDIAN",
    "PERCENTILE",
    "APPROX_COUNT_DISTINCT",
    "DISTINCT",
    "TIME_BUCKET",
    "CUMULATIVE",
    "ROUND",
    "ABS",
    "FLOOR",
    "CEIL",
    "COALESCE",
    "FILTER",
    "EXPLAIN",
    "SHOW STATS",
    "SHOW RULES",
    "CREATE RULE",
    "DROP RULE",
    "rule_hits",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS NULL",
    "IS NOT NULL",
    "NULL",
    "TRUE",
    "FALSE",
    "DESC",
    "ASC",
    "AS",
];

/// Completions for the word before `pos` in `line`: the byte offset where
/// the word starts (what the candidates replace) and the candidates.
///
/// - `at_start`: the line begins a new input (not a continuation line), so
///   a leading `.word` is a dot command name.
/// - An empty word offers the columns only, to discover the schema.
/// - Columns match case-insensitively and are inserted as spelled; `a.b`
///   words match dotted nested columns.
/// - Keywords follow the case of the word's first letter: `sel` →
///   `select`, `Sel` or `SEL` → `SELECT`.
pub(super) fn candidates(
    line: &str,
    pos: usize,
    at_start: bool,
    columns: &[String],
) -> (usize, Vec<String>) {
    let Some(head) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &head[start..];
    let lower = word.to_lowercase();

    if word.starts_with('.') && at_start && head[..start].trim().is_empty() {
        let names = NAMES.iter().filter(|n| n.starts_with(&lower));
        return (start, names.map(|n| n.to_string()).collect());
    }

    let mut found: Vec<String> = columns
        .iter()
        .filter(|c| c.to_lowercase().starts_with(&lower))
        .cloned()
        .collect();
    if word.is_empty() || word.contains('.') {
        return (start, found);
    }
    let upper = word.chars().next().is_some_and(char::is_uppercase);
    for keyword in KEYWORDS {
        if keyword.to_lowercase().starts_with(&lower) {
            let cased = match *keyword {
                "events" | "rule_hits" => keyword.to_string(),
                k if upper => k.to_string(),
                k => k.to_lowercase(),
            };
            if !found.contains(&cased) {
                found.push(cased);
            }
        }
    }
    (start, found)
}

/// The rustyline helper of the shell: completion only (no hints, no
/// colouring, no validation: the REPL itself decides when a statement is
/// complete, so it can show its own continuation prompt).
pub(super) struct ShellHelper {
    columns: Vec<String>,
    /// Set by the REPL before each prompt: whether the line continues a
    /// statement (then `.` starts no dot command) and what is open in it
    /// (a string or comment, where nothing is completed).
    pub(super) pending: Pending,
    files: FilenameCompleter,
}

impl ShellHelper {
    pub(super) fn new(columns: Vec<String>) -> ShellHelper {
        ShellHelper {
            columns,
            pending: Pending::default(),
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let at_start = !self.pending.is_pending();
        let command = line.trim_start();
        if at_start && (command.starts_with(".load ") || command.starts_with(".output ")) {
            return self.files.complete_path(line, pos);
        }
        if self.pending.in_literal_or_comment(line, pos) {
            return Ok((pos, Vec::new()));
        }
        let (start, words) = candidates(line, pos, at_start, &self.columns);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        [
            "timestamp",
            "event_id",
            "user_id",
            "video_id",
            "event_type",
            "metadata.view_duration_ms",
            "metadata.video_position",
            "metadata.device_type",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn complete(line: &str) -> (usize, Vec<String>) {
        candidates(line, line.len(), true, &columns())
    }

    #[test]
    fn keywords_follow_the_users_case() {
        assert_eq!(complete("SEL"), (0, vec!["SELECT".to_string()]));
        assert_eq!(complete("sel"), (0, vec!["select".to_string()]));
        assert_eq!(complete("Sel"), (0, vec!["SELECT".to_string()]));
        assert_eq!(
            complete("SELECT * FROM events gro"),
            (21, vec!["group by".to_string()])
        );
        assert_eq!(complete("x IS N").1, ["NOT", "NULL"]);
        assert_eq!(complete("x is").1, ["is null", "is not null"]);
    }

    #[test]
    fn columns_and_keywords_together() {
        assert_eq!(
            complete("SELECT e").1,
            ["event_id", "event_type", "events", "explain"]
        );
        assert_eq!(
            complete("SELECT COUNT(*) FROM ev").1,
            ["event_id", "event_type", "events"]
        );
        assert_eq!(complete("SELECT U").1, ["user_id"]);
        assert_eq!(
            complete("SELECT COUNT(*) FROM events WHERE E").1[2..],
            ["events", "EXPLAIN"]
        );
    }

    #[test]
    fn dotted_columns_complete_from_their_prefix() {
        assert_eq!(
            complete("SELECT AVG(metadata.v"),
            (
                11,
                vec![
                    "metadata.view_duration_ms".into(),
                    "metadata.video_position".into()
                ]
            )
        );
        assert_eq!(complete("SELECT metadata.").1.len(), 3);
        assert_eq!(complete("SELECT met").1.len(), 3);
    }

    #[test]
    fn an_empty_word_offers_the_columns() {
        assert_eq!(complete("SELECT ").1, columns());
    }

    #[test]
    fn dot_commands_only_at_the_start_of_an_input() {
        assert_eq!(complete(".m"), (0, vec![".mode".to_string()]));
        assert_eq!(complete("  .s").1, [".schema", ".stats"]);
        assert_eq!(complete(".").1.len(), NAMES.len());
        assert_eq!(
            candidates(".m", 2, false, &columns()).1,
            Vec::<String>::new()
        );
        assert_eq!(complete("SELECT .m").1, Vec::<String>::new());
    }

    #[test]
    fn completes_mid_line_and_survives_odd_positions() {
        assert_eq!(
            candidates("SEL FROM", 3, true, &columns()),
            (0, vec!["SELECT".into()])
        );
        assert_eq!(candidates("é", 1, true, &columns()), (1, vec![]));
        assert_eq!(candidates("abc", 99, true, &columns()), (99, vec![]));
    }
}
