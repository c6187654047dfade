//! How a failed statement is reported: `Error: ...`, and for a syntax error
//! the offending line with a caret under the column, psql style:
//!
//! ```text
//! Error: syntax error at line 1, column 8: Expected: an expression, found: FROM
//! LINE 1: SELECT FROM events;
//!                ^
//! ```
//!
//! `tally run` names the query file first: `q.sql:1:8: syntax error: ...`;
//! an error planning or running a statement names the name it is about, or
//! where the statement starts: `q.sql:3:9: unknown column 'usr_id' ...`.

use crate::error::Error;

/// The full report for `err`, raised by the statement text `source`, without
/// a trailing newline.
pub(super) fn render_error(err: &Error, source: &str) -> String {
    let mut out = format!("Error: {err}");
    if let Error::Syntax(syntax) = err {
        if let Some(caret) = caret(source, syntax.line, syntax.column) {
            out.push('\n');
            out.push_str(&caret);
        }
    }
    out
}

/// An error in the query file `path` (whose text is `source`), as compilers
/// write one: `PATH:LINE:COLUMN: message`, then the line and a caret under
/// the column; an error without a position is `PATH: error`.
pub fn render_file_error(path: &str, err: &Error, source: &str) -> String {
    let Error::Syntax(syntax) = err else {
        return format!("{path}: {err}");
    };
    let mut out = format!(
        "{path}:{}:{}: syntax error: {}",
        syntax.line, syntax.column, syntax.message
    );
    if let Some(caret) = caret(source, syntax.line, syntax.column) {
        out.push('\n');
        out.push_str(&caret);
    }
    out
}

/// An error planning or running a statement of the query file `path`
/// (whose text is `source`), at `line`, `column` (the name the error is
/// about, or the statement's start): `PATH:LINE:COLUMN: message`, then the
/// line and a caret. A syntax error has its own position: see
/// [`render_file_error`].
pub fn render_statement_error(
    path: &str,
    err: &Error,
    source: &str,
    line: u64,
    column: u64,
) -> String {
    if let Error::Syntax(_) = err {
        return render_file_error(path, err, source);
    }
    let mut out = format!("{path}:{line}:{column}: {err}");
    if let Some(caret) = caret(source, line, column) {
        out.push('\n');
        out.push_str(&caret);
    }
    out
}

/// Two lines: `LINE n: <text>` and a caret under the 1-based `column` of the
/// 1-based `line`. Tabs before the column are kept so the caret lines up in
/// a terminal. `None` when the position is not in `source`; a column just
/// past the end of the line (an unexpected end of input) is allowed.
pub(super) fn caret(source: &str, line: u64, column: u64) -> Option<String> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let text = source.lines().nth(index)?;
    let column = usize::try_from(column.checked_sub(1)?).ok()?;
    if column > text.chars().count() {
        return None;
    }
    let prefix = format!("LINE {line}: ");
    let pad: String = std::iter::repeat_n(' ', prefix.chars().count())
        .chain(
            text.chars()
                .take(column)
                .map(|c| if c == '\t' { '\t' } else { ' ' }),
        )
        .collect();
    Some(format!("{prefix}{text}\n{pad}^"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SyntaxError;

    #[test]
    fn caret_points_at_the_column() {
        assert_eq!(
            caret("SELECT FORM events;", 1, 8).as_deref(),
            Some("LINE 1: SELECT FORM events;\n               ^")
        );
    }

    #[test]
    fn caret_finds_later_lines_and_keeps_tabs() {
        let source = "SELECT COUNT(*)\n\tFROM events\n\tWINDOW 5x;";
        assert_eq!(
            caret(source, 3, 9).as_deref(),
            Some("LINE 3: \tWINDOW 5x;\n        \t       ^")
        );
    }

    #[test]
    fn caret_may_sit_just_past_the_end() {
        assert_eq!(
            caret("SELECT", 1, 7).as_deref(),
            Some("LINE 1: SELECT\n              ^")
        );
    }

    #[test]
    fn caret_ignores_positions_outside_the_text() {
        assert_eq!(caret("SELECT", 0, 1), None);
        assert_eq!(caret("SELECT", 1, 0), None);
        assert_eq!(caret("SELECT", 2, 1), None);
        assert_eq!(caret("SELECT", 1, 9), None);
        assert_eq!(caret("", 1, 1), None);
        assert_eq!(caret("SELECT", u64::MAX, u64::MAX), None);
    }

    #[test]
    fn counts_columns_in_characters() {
        assert_eq!(
            caret("SELECT 'é' x", 1, 12).as_deref(),
            Some("LINE 1: SELECT 'é' x\n                   ^")
        );
    }

    #[test]
    fn a_planning_error_points_at_its_statement() {
        let query = Error::Query("unknown column 'usr_id'".into());
        assert_eq!(
            render_statement_error(
                "q.sql",
                &query,
                "SELECT 1;\n  SELECT usr_id FROM events;",
                2,
                3
            ),
            "q.sql:2:3: unknown column 'usr_id'\nLINE 2:   SELECT usr_id FROM events;\n          ^"
        );
    }

    #[test]
    fn errors_read_error_and_syntax_errors_add_the_caret() {
        let query = Error::Query("unknown column 'usr_id'; did you mean 'user_id'?".into());
        assert_eq!(
            render_error(&query, "SELECT usr_id FROM events;"),
            "Error: unknown column 'usr_id'; did you mean 'user_id'?"
        );
        let syntax = Error::Syntax(SyntaxError {
            message: "Expected: end of statement, found: events".into(),
            line: 1,
            column: 14,
        });
        assert_eq!(
            render_error(&syntax, "SELECT * FRM events;"),
            "Error: syntax error at line 1, column 14: Expected: end of statement, found: events\n\
             LINE 1: SELECT * FRM events;\n                     ^"
        );
    }
}
