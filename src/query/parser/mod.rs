//! The parser: statement text → our own [`Statement`]s, via sqlparser.
//!
//! This module owns the query *syntax*. [`parse`] tokenizes the text once,
//! splits it into statements at `;` and, for each, runs three stages:
//!
//! 1. `extensions.rs` recognizes tally's own words on the tokens: the
//!    leading `EXPLAIN`, `SHOW`, `CREATE RULE` and `DROP RULE`, the
//!    trailing `WINDOW d`, and `TIME_BUCKET`'s bare width.
//! 2. `syntax.rs` runs sqlparser on what is left and positions its errors.
//! 3. `lower.rs` (clauses) and `lower_expr.rs` (expressions) lower
//!    sqlparser's large AST at once into the small one of
//!    [`crate::query::ast`], refusing with a hint every valid SQL
//!    construct tally cannot answer (joins, subqueries, `OFFSET`, ...).
//!
//! sqlparser's types never leave this folder. The parser does not know
//! columns or schemas: the planner resolves names and checks the `FROM`.
//! Positions in errors are 1-based and relative to the whole text.

mod extensions;
mod lower;
mod lower_expr;
mod syntax;
#[cfg(test)]
mod test_support;

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use self::extensions::Leading;
use self::lower_expr::Lower;
use self::syntax::{run_sqlparser, syntax_error};
use super::ast::{Literal, RuleDef, Select, Statement};
use crate::error::Result;

pub use self::lower_expr::Params;

/// Parses one or more `;`-separated statements. Statements made only of
/// whitespace and comments are skipped, so an empty text gives no statement.
pub fn parse(sql_text: &str, params: &Params) -> Result<Vec<Statement>> {
    Ok(parse_with(sql_text, params, false)?
        .into_iter()
        .map(|located| located.statement)
        .collect())
}

/// A parsed statement and where it and its names are in the text, so that
/// an error found later (planning it, running it) can still point there.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub statement: Statement,
    /// The 1-based line and column of the statement's first token.
    pub line: u64,
    pub column: u64,
    /// Every name in the statement (a word, or words joined by dots, as
    /// `metadata.device_type`) and its line and column.
    pub names: Vec<(String, u64, u64)>,
}

impl Located {
    /// Where an error about this statement points: at the first name the
    /// message quotes (`unknown column 'usr_id'`), else at the statement.
    pub fn position_for(&self, message: &str) -> (u64, u64) {
        self.names
            .iter()
            .find(|(name, _, _)| message.contains(&format!("'{name}'")))
            .map_or((self.line, self.column), |&(_, line, column)| {
                (line, column)
            })
    }
}

/// [`parse`], keeping where each statement and its names start.
pub fn parse_located(sql_text: &str, params: &Params) -> Result<Vec<Located>> {
    parse_with(sql_text, params, true)
}

fn parse_with(sql_text: &str, params: &Params, keep_names: bool) -> Result<Vec<Located>> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql_text)
        .tokenize_with_location()
        .map_err(|e| syntax_error(e.message, e.location))?;
    split_statements(tokens)
        .iter()
        .map(|statement| {
            // split_statements keeps no empty statement.
            let start = statement
                .first()
                .map_or(Location::new(1, 1), |t| t.span.start);
            Ok(Located {
                statement: parse_statement(&dialect, statement, params)?,
                line: start.line,
                column: start.column,
                names: if keep_names {
                    names(statement)
                } else {
                    Vec::new()
                },
            })
        })
        .collect()
}

/// The names among `tokens`: words, with `a.b.c` joined into one.
fn names(tokens: &[TokenWithSpan]) -> Vec<(String, u64, u64)> {
    let mut names: Vec<(String, u64, u64)> = Vec::new();
    let mut joining = false;
    for (i, token) in tokens.iter().enumerate() {
        match &token.token {
            Token::Word(word) if joining => {
                if let Some((name, _, _)) = names.last_mut() {
                    name.push('.');
                    name.push_str(&word.value);
                }
                joining = false;
            }
            Token::Word(word) => {
                let at = token.span.start;
                names.push((word.value.clone(), at.line, at.column));
            }
            Token::Period if i > 0 && matches!(tokens[i - 1].token, Token::Word(_)) => {
                joining = true;
            }
            _ => joining = false,
        }
    }
    names
}

/// Reads a `--param name=value` value: an integer, a float, `true`/`false`,
/// `null`, a `'quoted'` or `"quoted"` string, or else the bare text as a
/// string.
pub fn param_value(text: &str) -> Literal {
    let text = text.trim();
    for quote in ['\'', '"'] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            let inner = &text[1..text.len() - 1];
            let doubled = format!("{quote}{quote}");
            return Literal::Str(inner.replace(&doubled, &quote.to_string()));
        }
    }
    if text.eq_ignore_ascii_case("null") {
        return Literal::Null;
    }
    if text.eq_ignore_ascii_case("true") {
        return Literal::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Literal::Bool(false);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Literal::Int(i);
    }
    // `f64::from_str` also takes "inf" and "NaN": only finite numbers count.
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Literal::Float(x),
        _ => Literal::Str(text.to_string()),
    }
}

/// Splits the token stream at `;` into statements, dropping whitespace and
/// comment tokens (sqlparser skips them anyway) and empty statements.
/// A `;` inside a string or comment is part of that token, never a split.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = vec![];
    let mut current = vec![];
    for token in tokens {
        match token.token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => statements.push(std::mem::take(&mut current)),
            _ => current.push(token),
        }
    }
    statements.push(current);
    statements.retain(|s| !s.is_empty());
    statements
}

/// Dispatches on the leading words: `EXPLAIN`, `SHOW`, `CREATE RULE`,
/// `DROP RULE`, or a query. `tokens` is never empty.
fn parse_statement(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    params: &Params,
) -> Result<Statement> {
    match extensions::statement(tokens)? {
        Leading::Explain(select, before) => Ok(Statement::Explain(parse_select(
            dialect, select, before, params,
        )?)),
        Leading::ShowStats => Ok(Statement::ShowStats),
        Leading::ShowRules => Ok(Statement::ShowRules),
        Leading::CreateRule(rule) => {
            let select = parse_select(dialect, rule.body, rule.after_as, params)?;
            Ok(Statement::CreateRule(RuleDef {
                name: rule.name,
                select,
                condition: extensions::rule_condition(rule.body, params)?,
            }))
        }
        Leading::DropRule(name, if_exists) => Ok(Statement::DropRule { name, if_exists }),
        Leading::Select(start) => Ok(Statement::Select(parse_select(
            dialect, tokens, start, params,
        )?)),
    }
}

/// Parses a query, with its optional trailing `WINDOW d`. `before` is where
/// to report an error when `tokens` is empty (`EXPLAIN` alone).
fn parse_select(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    before: Location,
    params: &Params,
) -> Result<Select> {
    let (body, window_ms) = extensions::split_window(tokens)?;
    let body = extensions::quote_bucket_widths(body);
    let statement = run_sqlparser(dialect, &body, before)?;
    let leading = body
        .first()
        .map(|t| t.token.to_string())
        .unwrap_or_default();
    let mut select = Lower::new(params).statement(statement, &leading)?;
    select.window_ms = window_ms;
    Ok(select)
}

#[cfg(test)]
mod tests {
    use super::test_support::parse_all;
    use super::*;

    #[test]
    fn several_statements_comments_and_empty_ones() {
        let statements = parse_all(
            "-- a saved query file\n\
             SELECT COUNT(*) FROM events WINDOW 5m; ;\n\
             /* second; with a ; in the comment */ SELECT ';' AS semi FROM events;\n\
             -- trailing comment only\n",
        );
        assert_eq!(statements.len(), 2);
        assert!(parse_all("").is_empty());
        assert!(parse_all("  ; -- nothing\n ; /* */").is_empty());
    }

    #[test]
    fn each_statement_keeps_where_it_starts() {
        let text = "-- two\nSELECT COUNT(*) FROM events;\n\n  /* c */ SHOW STATS;";
        let starts: Vec<(u64, u64)> = parse_located(text, &Params::new())
            .unwrap()
            .iter()
            .map(|s| (s.line, s.column))
            .collect();
        assert_eq!(starts, [(2, 1), (4, 11)]);
    }

    #[test]
    fn an_error_quoting_a_name_points_at_it() {
        let text = "SELECT COUNT(*) FROM events\n  WHERE metadata.device = 'x' AND usr_id = 1;";
        let located = &parse_located(text, &Params::new()).unwrap()[0];
        assert_eq!(located.position_for("unknown column 'usr_id'"), (2, 35));
        assert_eq!(
            located.position_for("unknown column 'metadata.device'"),
            (2, 9)
        );
        // A string literal is not a name; a message quoting none points at
        // the statement.
        assert_eq!(located.position_for("no column 'x'"), (1, 1));
    }

    #[test]
    fn param_values() {
        assert_eq!(param_value("42"), Literal::Int(42));
        assert_eq!(param_value("-7"), Literal::Int(-7));
        assert_eq!(param_value("1.5"), Literal::Float(1.5));
        assert_eq!(param_value("TRUE"), Literal::Bool(true));
        assert_eq!(param_value("false"), Literal::Bool(false));
        assert_eq!(param_value("null"), Literal::Null);
        assert_eq!(param_value("'42'"), Literal::Str("42".into()));
        assert_eq!(param_value("\"it's\""), Literal::Str("it's".into()));
        assert_eq!(param_value("'it''s'"), Literal::Str("it's".into()));
        assert_eq!(param_value("video_view"), Literal::Str("video_view".into()));
        assert_eq!(param_value("NaN"), Literal::Str("NaN".into()));
        assert_eq!(param_value("'"), Literal::Str("'".into()));
        assert_eq!(param_value(""), Literal::Str("".into()));
    }
}
