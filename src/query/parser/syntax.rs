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

use super::lower_expr::too_deep;
use crate::error::{Error, Result, SyntaxError};
use crate::query::ast::MAX_EXPRESSION_DEPTH;

/// How many operators one expression may chain before sqlparser sees it.
/// sqlparser parses a chain such as `1 + 1 + ... + 1` in a loop, without
/// its recursion limit, into a tree as deep as the chain is long, which
/// recursive code (its own `Drop` included) then walks: past this bound we
/// refuse the statement from its tokens alone, before the tree exists. An
/// expression this long is far deeper than the lowering allows anyway.
const MAX_OPERATOR_CHAIN: usize = 16 * MAX_EXPRESSION_DEPTH;

/// sqlparser's own recursion limit. It spends several levels on one `NOT`,
/// parenthesis or call, and past it sometimes backtracks into a confusing
/// error rather than reporting the limit, so it is set well above
/// [`MAX_EXPRESSION_DEPTH`]: the lowering, which counts exactly, refuses
/// first, and this only bounds sqlparser's own stack.
const SQLPARSER_RECURSION_LIMIT: usize = 4 * MAX_EXPRESSION_DEPTH + 64;

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
    check_operator_chains(tokens)?;
    let mut parser = Parser::new(dialect)
        .with_recursion_limit(SQLPARSER_RECURSION_LIMIT)
        .with_tokens_with_locations(tokens.to_vec());
    let statement = parser
        .parse_statement()
        .map_err(|e| unended(tokens).unwrap_or_else(|| parser_error(e, tokens, end)))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(unended(tokens).unwrap_or_else(|| {
            syntax_error(
                format!("unexpected {} after the end of the statement", next.token),
                next.span.start,
            )
        }));
    }
    Ok(statement)
}

/// The error for a statement that failed to parse because it is two: a
/// `SELECT` that opens a line, outside parentheses, after the first
/// statement's FROM, and not after a set operator. A statement runs on
/// until `;`, so a script or piped input whose lines lack it joins them,
/// and the parser's own complaint then points at the wrong place (the
/// joined text's WINDOW, or the second SELECT as a stray word).
fn unended(tokens: &[TokenWithSpan]) -> Option<Error> {
    const SET_WORDS: [&str; 5] = ["UNION", "INTERSECT", "EXCEPT", "ALL", "DISTINCT"];
    let mut depth = 0i32;
    let mut from = false;
    let mut before: Option<&TokenWithSpan> = None;
    for t in tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
    {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0 && is_word(t, "FROM") {
            from = true;
        }
        if let Some(b) = before {
            let opens_line = b.span.end.line < t.span.start.line;
            let set = SET_WORDS.iter().any(|w| is_word(b, w));
            if depth == 0 && from && opens_line && !set && is_word(t, "SELECT") {
                return Some(syntax_error(
                    format!(
                        "a second statement starts here, but the one on line {} has no `;` \
                         at its end: a statement runs on until `;`, so end each with one",
                        b.span.end.line
                    ),
                    t.span.start,
                ));
            }
        }
        before = Some(t);
    }
    None
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

/// Refuses a statement whose tokens could build an expression tree deeper
/// than [`MAX_OPERATOR_CHAIN`]: an upper bound, counted in one pass, of the
/// operators and keywords between two commas at one parenthesis level,
/// added up over the enclosing levels.
fn check_operator_chains(tokens: &[TokenWithSpan]) -> Result<()> {
    use sqlparser::keywords::Keyword;
    /// One open parenthesis level.
    #[derive(Default)]
    struct Level {
        /// Operators in the current comma-separated item.
        operators: usize,
        /// The deepest closed parenthesis inside the current item.
        inner: usize,
        /// The deepest item before the current one.
        deepest: usize,
    }
    let mut levels = vec![Level::default()];
    // Sum of `operators + inner + 1` over every level but the innermost.
    let mut outer = 0;
    for token in tokens {
        let top = levels.len() - 1;
        match &token.token {
            Token::LParen => {
                let l = &levels[top];
                outer += l.operators + l.inner + 1;
                levels.push(Level::default());
            }
            Token::RParen if top > 0 => {
                let closed = levels.pop().unwrap_or_default();
                let l = &mut levels[top - 1];
                outer -= l.operators + l.inner + 1;
                let depth = closed.deepest.max(closed.operators + closed.inner) + 1;
                l.inner = l.inner.max(depth);
            }
            Token::Comma => {
                let l = &mut levels[top];
                l.deepest = l.deepest.max(l.operators + l.inner);
                l.operators = 0;
                l.inner = 0;
            }
            Token::Word(w) if w.keyword == Keyword::NoKeyword => {}
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::Period
            | Token::RParen
            | Token::Placeholder(_) => {}
            _ => levels[top].operators += 1,
        }
        let top = &levels[levels.len() - 1];
        if outer + top.operators + top.inner > MAX_OPERATOR_CHAIN {
            return Err(syntax_error(
                format!(
                    "the expression is too long: more than {MAX_OPERATOR_CHAIN} operators \
                     chained or nested in one expression, and tally takes at most \
                     {MAX_EXPRESSION_DEPTH} levels; split it, or write a long OR chain as IN (...)"
                ),
                token.span.start,
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
        ParserError::RecursionLimitExceeded => too_deep().to_string(),
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
    fn a_missing_semicolon_between_lines_is_named() {
        // The second statement's WINDOW is taken as the first's, and
        // sqlparser trips over the first's: the error names the cause.
        let e =
            syntax("SELECT COUNT(*) FROM events WINDOW 24h\nSELECT COUNT(*) FROM events WINDOW 1h");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("line 1 has no `;`"), "{e}");
        let e = syntax("SELECT a FROM events\n  SELECT b FROM events");
        assert_eq!((e.line, e.column), (2, 3), "{e}");
        assert!(e.message.contains("no `;`"), "{e}");
        // A SELECT on the same line is another error.
        let e = syntax("SELECT a FROM events SELECT b FROM events");
        assert!(e.message.contains("after the end of the statement"), "{e}");
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
        let e = parse(&sql, &Params::new()).unwrap_err();
        assert!(e.to_string().contains("nested too deeply"), "{e}");
    }

    /// Item 1 of the hostile-input issue: a long chain of operators, or of
    /// NOT, is refused by the one depth limit, with a message that says so;
    /// just under the limit it parses.
    #[test]
    fn long_expression_chains_are_refused_by_the_depth_limit() {
        let refused = |sql: String| match parse(&sql, &Params::new()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {} bytes", sql.len()),
        };
        let chain = |n| {
            format!(
                "SELECT COUNT(*) FROM events WHERE user_id = 1{}",
                " + 1".repeat(n)
            )
        };
        let nots = |n| {
            format!(
                "SELECT COUNT(*) FROM events WHERE {}user_id = 1",
                "NOT ".repeat(n)
            )
        };
        let parens = |n| format!("SELECT {}1{} FROM events", "(".repeat(n), ")".repeat(n));
        // Within the limit, each parses.
        for sql in [chain(100), nots(100), parens(100)] {
            parse(&sql, &Params::new()).unwrap_or_else(|e| panic!("{e}"));
        }
        // Past the depth, the lowering refuses; past sqlparser's recursion
        // limit, sqlparser does; past the operator bound, the token check.
        for sql in [
            chain(200),
            nots(129),
            nots(200),
            nots(5_000),
            parens(129),
            parens(5_000),
            chain(5_500),
            chain(500_000),
        ] {
            let e = refused(sql);
            assert!(
                e.contains("nested too deeply") || e.contains("too long"),
                "{e}"
            );
            assert!(e.contains("at most 128 levels"), "{e}");
        }
    }
}
