//! The boundary with sqlparser's parser, and every syntax error.
//!
//! This file owns running sqlparser on one statement's tokens and turning
//! what goes wrong into a positioned [`SyntaxError`] (1-based line and
//! column of the whole text, because every token keeps the location the
//! tokenizer gave it). It also holds [`is_word`], the token test the
//! extensions and the error heuristics share. It does not decide what a
//! statement means: the extensions and the lowering do.

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::error::{Error, Result, SyntaxError};

/// True if `token` is the unquoted word `word`, in any case.
pub(super) fn is_word(token: &TokenWithSpan, word: &str) -> bool {
    matches!(&token.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Runs sqlparser on one statement's tokens and requires that it uses them
/// all.
pub(super) fn run_sqlparser(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    before: Location,
) -> Result<sql::Statement> {
    let end = tokens.last().map_or(before, |t| t.span.end);
    missing_condition(tokens)?;
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens.to_vec());
    let statement = parser
        .parse_statement()
        .map_err(|e| parser_error(e, tokens, end))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(syntax_error(
            format!("unexpected {} after the end of the statement", next.token),
            next.span.start,
        ));
    }
    Ok(statement)
}

/// Words that open a condition, and the clause keywords that cannot be
/// one: sqlparser would read `WHERE AND` or `... AND GROUP BY x` as a
/// column named `AND` or `GROUP`, and fail later with a confusing message
/// ("unknown column 'AND'", "unexpected BY").
const CONDITION_OPENERS: [&str; 5] = ["WHERE", "HAVING", "AND", "OR", "NOT"];
const CLAUSE_WORDS: [&str; 10] = [
    "AND", "OR", "SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW",
];

/// Refuses a clause keyword where a condition is due, naming both.
fn missing_condition(tokens: &[TokenWithSpan]) -> Result<()> {
    let words: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    for pair in words.windows(2) {
        let (opener, next) = (pair[0], pair[1]);
        let Some(open) = CONDITION_OPENERS.iter().find(|w| is_word(opener, w)) else {
            continue;
        };
        if let Some(found) = CLAUSE_WORDS.iter().find(|w| is_word(next, w)) {
            return Err(syntax_error(
                format!(
                    "{open} needs a condition after it, found {found}; \
                     write one such as event_type = 'like', or remove the {open}"
                ),
                next.span.start,
            ));
        }
    }
    Ok(())
}

/// Turns a sqlparser error into a positioned [`SyntaxError`].
///
/// sqlparser appends " at Line: L, Column: C" to its messages, except at the
/// end of input, where we point just after the last token. A `WINDOW` word
/// at or before the error is most likely a misplaced `WINDOW d`, so that is
/// what we report then.
fn parser_error(error: ParserError, tokens: &[TokenWithSpan], end: Location) -> Error {
    let message = match error {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
        ParserError::RecursionLimitExceeded => "the statement is nested too deeply".into(),
    };
    let (message, location) = split_location(&message);
    let location = location.unwrap_or(end);
    if let Some(window) = tokens
        .iter()
        .find(|t| is_word(t, "WINDOW") && t.span.start <= location)
    {
        return syntax_error(
            "WINDOW <duration> must be the last clause of the statement, after ORDER BY \
             and LIMIT, with one duration, like ... LIMIT 10 WINDOW 1h"
                .into(),
            window.span.start,
        );
    }
    syntax_error(
        message.replace("found: EOF", "found: end of statement"),
        location,
    )
}

/// Splits " at Line: L, Column: C" off a sqlparser message.
fn split_location(message: &str) -> (String, Option<Location>) {
    const MARK: &str = " at Line: ";
    if let Some(i) = message.rfind(MARK) {
        if let Some((line, column)) = message[i + MARK.len()..].split_once(", Column: ") {
            if let (Ok(line), Ok(column)) = (line.parse(), column.parse()) {
                return (message[..i].to_string(), Some(Location::new(line, column)));
            }
        }
    }
    (message.to_string(), None)
}

pub(super) fn syntax_error(message: String, at: Location) -> Error {
    Error::Syntax(SyntaxError {
        message,
        line: at.line,
        column: at.column,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{query_error, syntax};
    use super::super::{parse, Params};
    use crate::error::Error;

    #[test]
    fn misplaced_window_is_explained() {
        let e = syntax("SELECT x, COUNT(*) FROM events GROUP BY x\nWINDOW 1h ORDER BY x");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("must be the last clause"), "{e}");
        // An earlier error is reported as itself, not as the WINDOW.
        let e = syntax("SELECT COUNT(* FROM events WINDOW 1h LIMIT 3");
        assert_eq!((e.line, e.column), (1, 16), "{e}");
        let e = query_error("SELECT x FROM events WINDOW w AS (PARTITION BY x)");
        assert!(e.contains("named windows"), "{e}");
    }

    #[test]
    fn syntax_error_positions() {
        let e = syntax("SELECT COUNT(* FROM events");
        assert_eq!((e.line, e.column), (1, 16), "{e}");
        assert!(
            e.message.contains("FROM") && !e.message.contains("Line:"),
            "{e}"
        );

        let e = syntax("SELECT a,\n  COUNT(*)\nFROM events WHERE x = = 1");
        assert_eq!((e.line, e.column), (3, 23), "{e}");

        // At the end of input: just after the last token.
        let e = syntax("SELECT a FROM events WHERE");
        assert_eq!((e.line, e.column), (1, 27), "{e}");
        assert!(e.message.contains("end of statement"), "{e}");

        // Positions count from the start of the whole text, across statements.
        let e = syntax("SELECT COUNT(*) FROM events;\nSELECT a FROM events b c");
        assert_eq!((e.line, e.column), (2, 24), "{e}");
        assert!(e.message.contains("after the end of the statement"), "{e}");

        let e = syntax("SELECT 'unterminated FROM events");
        assert_eq!((e.line, e.column), (1, 8), "{e}");
        assert_eq!(
            Error::Syntax(e).to_string(),
            "syntax error at line 1, column 8: Unterminated string literal"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let sql = format!("SELECT {}1{} FROM events", "(".repeat(500), ")".repeat(500));
        assert!(matches!(parse(&sql, &Params::new()), Err(Error::Syntax(_))));
    }
}
