//! The parser: statement text → our own [`Statement`]s, via sqlparser.
//!
//! This module owns the query *syntax*: splitting the text into statements,
//! tally's two extensions to SQL (`EXPLAIN`/`SHOW STATS` and the trailing
//! `WINDOW d`), and lowering sqlparser's large AST at once into the small
//! one of [`super::ast`]. It rejects, with a hint, every valid SQL construct
//! tally cannot answer (joins, subqueries, `OFFSET`, ...). It does not know
//! columns or schemas: the planner resolves names and checks the `FROM`.
//!
//! The extensions work on *tokens*, never on the raw text, so a `WINDOW 1h`
//! inside a string literal or a comment is never mistaken for the clause.
//! Positions in errors are 1-based and relative to the whole text, because
//! every token keeps the location the tokenizer gave it.

use std::collections::HashMap;

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::ast::{
    AggFunc, BinaryOp, Expr, Literal, OrderBy, Percent, RuleDef, Select, SelectItem, Statement,
    UnaryOp,
};
use crate::error::{Error, Result, SyntaxError};
use crate::time::{parse_duration, Millis};

/// Values for `:name` placeholders in saved queries, keyed by name without
/// the colon.
pub type Params = HashMap<String, Literal>;

/// The shape of every query tally answers, quoted in rejection messages.
const SELECT_SHAPE: &str = "SELECT [TOP k] items FROM events [WHERE ...] [GROUP BY ...] \
                            [HAVING ...] [ORDER BY ...] [LIMIT n] [WINDOW d]";

/// Parses one or more `;`-separated statements. Statements made only of
/// whitespace and comments are skipped, so an empty text gives no statement.
pub fn parse(sql_text: &str, params: &Params) -> Result<Vec<Statement>> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql_text)
        .tokenize_with_location()
        .map_err(|e| syntax_error(e.message, e.location))?;
    split_statements(tokens)
        .iter()
        .map(|statement| parse_statement(&dialect, statement, params))
        .collect()
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

// ---------------------------------------------------------------------------
// Statements and tally's extensions, on tokens
// ---------------------------------------------------------------------------

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

/// Dispatches on the leading word: `EXPLAIN`, `SHOW`, or a query.
/// `tokens` is never empty.
fn parse_statement(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    params: &Params,
) -> Result<Statement> {
    let Some((first, rest)) = tokens.split_first() else {
        return Err(Error::Internal("empty statement reached the parser".into()));
    };
    if is_word(first, "EXPLAIN") {
        return Ok(Statement::Explain(parse_select(
            dialect,
            rest,
            first.span.end,
            params,
        )?));
    }
    if is_word(first, "SHOW") {
        return parse_show(rest);
    }
    if is_word(first, "CREATE") && rest.first().is_some_and(|t| is_word(t, "RULE")) {
        return parse_create_rule(dialect, first, &rest[1..], params);
    }
    if is_word(first, "DROP") && rest.first().is_some_and(|t| is_word(t, "RULE")) {
        return parse_drop_rule(first, &rest[1..]);
    }
    Ok(Statement::Select(parse_select(
        dialect,
        tokens,
        first.span.start,
        params,
    )?))
}

/// `SHOW STATS` and `SHOW RULES`.
fn parse_show(rest: &[TokenWithSpan]) -> Result<Statement> {
    match rest {
        [what] if is_word(what, "STATS") => Ok(Statement::ShowStats),
        [what] if is_word(what, "RULES") => Ok(Statement::ShowRules),
        _ => {
            let what: Vec<String> = rest.iter().map(|t| t.token.to_string()).collect();
            Err(Error::Query(format!(
                "SHOW {} is not supported; SHOW supports: SHOW STATS, SHOW RULES",
                what.join(" ")
            )))
        }
    }
}

/// The shape of a rule, quoted in rejection messages.
const RULE_SHAPE: &str = "CREATE RULE name AS SELECT key, aggregates FROM events [WHERE ...] \
                          GROUP BY key HAVING condition WINDOW d";

/// `CREATE RULE name AS <select>`; `rest` follows `RULE`. Only the syntax
/// is checked here: the rules module checks the select's shape against the
/// schema (one actor key, HAVING, WINDOW).
fn parse_create_rule(
    dialect: &GenericDialect,
    create: &TokenWithSpan,
    rest: &[TokenWithSpan],
    params: &Params,
) -> Result<Statement> {
    let after_rule = rest.first().map_or(create.span.end, |t| t.span.start);
    let (name, rest) = rule_name(rest, after_rule, RULE_SHAPE)?;
    let Some((as_token, body)) = rest.split_first().filter(|(t, _)| is_word(t, "AS")) else {
        let at = rest.first().map_or(after_rule, |t| t.span.start);
        return Err(syntax_error(
            format!("expected AS after the rule name: {RULE_SHAPE}"),
            at,
        ));
    };
    if body.is_empty() {
        return Err(syntax_error(
            format!("expected a SELECT after AS: {RULE_SHAPE}"),
            as_token.span.end,
        ));
    }
    let select = parse_select(dialect, body, as_token.span.end, params)?;
    let (sql_body, _) = split_window(body)?;
    Ok(Statement::CreateRule(RuleDef {
        name,
        select,
        condition: having_text(sql_body, params),
    }))
}

/// `DROP RULE name`; `rest` follows `RULE`.
fn parse_drop_rule(drop: &TokenWithSpan, rest: &[TokenWithSpan]) -> Result<Statement> {
    let after_rule = rest.first().map_or(drop.span.end, |t| t.span.start);
    let (name, rest) = rule_name(rest, after_rule, "DROP RULE name")?;
    if let Some(extra) = rest.first() {
        return Err(syntax_error(
            format!(
                "unexpected {} after the rule name: DROP RULE name",
                extra.token
            ),
            extra.span.start,
        ));
    }
    Ok(Statement::DropRule(name))
}

/// A rule name: a word of letters, digits and `_` that does not start with
/// a digit. Unquoted names are folded to lower case.
fn rule_name<'t>(
    tokens: &'t [TokenWithSpan],
    at: Location,
    shape: &str,
) -> Result<(String, &'t [TokenWithSpan])> {
    let Some((first, rest)) = tokens.split_first() else {
        return Err(syntax_error(format!("expected a rule name: {shape}"), at));
    };
    let name = match &first.token {
        Token::Word(w) if w.quote_style.is_none() && !w.value.eq_ignore_ascii_case("AS") => {
            w.value.to_lowercase()
        }
        Token::Word(w) if w.quote_style.is_some() => w.value.clone(),
        _ => {
            return Err(syntax_error(
                format!("expected a rule name, found {}: {shape}", first.token),
                first.span.start,
            ))
        }
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if !valid {
        return Err(syntax_error(
            format!(
                "rule name {name:?}: use up to 64 letters, digits and _, not starting with a digit"
            ),
            first.span.start,
        ));
    }
    Ok((name, rest))
}

/// The `HAVING` clause's text, from its tokens: up to `ORDER BY` or
/// `LIMIT` outside parentheses, or the end. Tokens keep their positions, so
/// the spacing is the user's (runs of blanks and newlines become one space);
/// `:name` parameters show their bound value.
fn having_text(tokens: &[TokenWithSpan], params: &Params) -> String {
    let mut depth = 0i32;
    let mut start = None;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && is_word(t, "HAVING") => start = Some(i + 1),
            _ => {}
        }
    }
    let Some(start) = start else {
        return String::new();
    };
    let mut text = String::new();
    let mut depth = 0i32;
    let mut previous: Option<Location> = None;
    let mut tokens = tokens[start..].iter().peekable();
    while let Some(t) = tokens.next() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && (is_word(t, "ORDER") || is_word(t, "LIMIT")) => break,
            _ => {}
        }
        if previous.is_some_and(|end| end != t.span.start) {
            text.push(' ');
        }
        previous = Some(t.span.end);
        // `:name` is a colon and a word to the tokenizer.
        if t.token == Token::Colon {
            if let Some(next) = tokens.next_if(|n| n.span.start == t.span.end) {
                if let Token::Word(w) = &next.token {
                    match params.get(&w.value) {
                        Some(value) => text.push_str(&value.to_string()),
                        None => text.push_str(&format!(":{}", w.value)),
                    }
                } else {
                    text.push_str(&format!(":{}", next.token));
                }
                previous = Some(next.span.end);
                continue;
            }
        }
        text.push_str(&t.token.to_string());
    }
    text
}

/// True if `token` is the unquoted word `word`, in any case.
fn is_word(token: &TokenWithSpan, word: &str) -> bool {
    matches!(&token.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Parses a query, with its optional trailing `WINDOW d`. `before` is where
/// to report an error when `tokens` is empty (`EXPLAIN` alone).
fn parse_select(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    before: Location,
    params: &Params,
) -> Result<Select> {
    let (body, window_ms) = split_window(tokens)?;
    let body = quote_bucket_widths(body);
    let statement = run_sqlparser(dialect, &body, before)?;
    let leading = body
        .first()
        .map(|t| t.token.to_string())
        .unwrap_or_default();
    let mut select = Lower { params }.statement(statement, &leading)?;
    select.window_ms = window_ms;
    Ok(select)
}

/// Removes a trailing `WINDOW <duration>` and returns the duration.
///
/// Only the last `WINDOW` word counts, and only when what follows it looks
/// like a duration (`1h`, `1 hour`, `'1h'`, `-1h`, nothing). Any other
/// `WINDOW` (misplaced, or SQL's named `WINDOW w AS (...)`) is left to
/// sqlparser, and [`run_sqlparser`] explains it if it fails.
fn split_window(tokens: &[TokenWithSpan]) -> Result<(&[TokenWithSpan], Option<Millis>)> {
    let Some(at) = tokens.iter().rposition(|t| is_word(t, "WINDOW")) else {
        return Ok((tokens, None));
    };
    let tail = &tokens[at + 1..];
    if !looks_like_duration(tail) {
        return Ok((tokens, None));
    }
    let ms = window_duration(&tokens[at], tail)?;
    Ok((&tokens[..at], Some(ms)))
}

/// `TIME_BUCKET(1h, ts)` → `TIME_BUCKET('1h', ts)`: the tokenizer splits a
/// bare duration into a number and a word (`1 hour` too), which SQL cannot
/// parse as an argument; a width written as a string is left as it is.
fn quote_bucket_widths(tokens: &[TokenWithSpan]) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let [name, open, number, unit, after, ..] = &tokens[i..] {
            let bare = is_word(name, "TIME_BUCKET")
                && open.token == Token::LParen
                && matches!(number.token, Token::Number(..))
                && matches!(&unit.token, Token::Word(w) if w.quote_style.is_none())
                && matches!(after.token, Token::Comma | Token::RParen);
            if bare {
                let text = match number.span.end == unit.span.start {
                    true => format!("{}{}", number.token, unit.token),
                    false => format!("{} {}", number.token, unit.token),
                };
                out.push(name.clone());
                out.push(open.clone());
                out.push(TokenWithSpan::new(
                    Token::SingleQuotedString(text),
                    sqlparser::tokenizer::Span::new(number.span.start, unit.span.end),
                ));
                i += 4;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// `[-] (number [unit] | 'text' | unit)`, or nothing.
fn looks_like_duration(tail: &[TokenWithSpan]) -> bool {
    let tail = match tail.split_first() {
        Some((first, rest)) if first.token == Token::Minus => rest,
        _ => tail,
    };
    let unquoted_word =
        |t: &TokenWithSpan| matches!(&t.token, Token::Word(w) if w.quote_style.is_none());
    match tail {
        [] => true,
        [one] => {
            matches!(one.token, Token::Number(..) | Token::SingleQuotedString(_))
                || unquoted_word(one)
        }
        [number, unit] => matches!(number.token, Token::Number(..)) && unquoted_word(unit),
        _ => false,
    }
}

/// The milliseconds of a `WINDOW` duration already shaped by
/// [`looks_like_duration`]. The tokenizer splits `1h` into `1` and `h`.
fn window_duration(window: &TokenWithSpan, tail: &[TokenWithSpan]) -> Result<Millis> {
    let Some(first) = tail.first() else {
        return Err(syntax_error(
            "expected a duration after WINDOW, like 90s, 5m, 1h or 2d".into(),
            window.span.end,
        ));
    };
    if first.token == Token::Minus {
        return Err(syntax_error(
            "the WINDOW duration must be positive, like 90s, 5m, 1h or 2d".into(),
            first.span.start,
        ));
    }
    let text = match tail {
        [number, unit] if number.span.end == unit.span.start => {
            format!("{}{}", number.token, unit.token)
        }
        [number, unit] => format!("{} {}", number.token, unit.token),
        _ => match &first.token {
            Token::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
    };
    parse_duration(&text).map_err(|e| match e {
        Error::InvalidInput(message) => syntax_error(message, first.span.start),
        other => other,
    })
}

/// Runs sqlparser on one statement's tokens and requires that it uses them
/// all.
fn run_sqlparser(
    dialect: &GenericDialect,
    tokens: &[TokenWithSpan],
    before: Location,
) -> Result<sql::Statement> {
    let end = tokens.last().map_or(before, |t| t.span.end);
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

fn syntax_error(message: String, at: Location) -> Error {
    Error::Syntax(SyntaxError {
        message,
        line: at.line,
        column: at.column,
    })
}

/// Valid SQL that tally does not answer.
fn unsupported(message: impl Into<String>) -> Error {
    Error::Query(message.into())
}

// ---------------------------------------------------------------------------
// Lowering: sqlparser's AST → ours
// ---------------------------------------------------------------------------

/// Lowers one sqlparser statement; holds the values for `:name` placeholders.
struct Lower<'a> {
    params: &'a Params,
}

impl Lower<'_> {
    /// `leading` is the statement's first token, to name what is rejected.
    fn statement(&self, statement: sql::Statement, leading: &str) -> Result<Select> {
        match statement {
            sql::Statement::Query(query) => self.query(*query),
            _ => Err(unsupported(format!(
                "{} statements are not supported: tally answers {SELECT_SHAPE}, \
                 EXPLAIN SELECT ..., SHOW STATS, and CREATE RULE / DROP RULE / SHOW RULES",
                leading.to_uppercase()
            ))),
        }
    }

    fn query(&self, query: sql::Query) -> Result<Select> {
        reject_query_extras(&query)?;
        let mut select = match *query.body {
            sql::SetExpr::Select(select) => self.select(*select)?,
            sql::SetExpr::SetOperation { op, .. } => {
                return Err(unsupported(format!(
                    "{op} is not supported; run each SELECT as its own statement"
                )))
            }
            sql::SetExpr::Query(_) => {
                return Err(unsupported(
                    "a parenthesized query is not supported; remove the parentheses",
                ))
            }
            other => {
                return Err(unsupported(format!(
                    "`{other}` is not supported; write {SELECT_SHAPE}"
                )))
            }
        };
        if let Some(order_by) = query.order_by {
            select.order_by = self.order_by(order_by)?;
        }
        if let Some(limit) = query.limit_clause {
            select.limit = self.limit(limit)?;
        }
        Ok(select)
    }

    fn select(&self, select: sql::Select) -> Result<Select> {
        reject_select_extras(&select)?;
        let sql::Select {
            distinct,
            top,
            projection,
            from,
            selection,
            group_by,
            having,
            ..
        } = select;
        match distinct {
            None | Some(sql::Distinct::All) => {}
            Some(_) => {
                return Err(unsupported(
                    "SELECT DISTINCT is not supported; use GROUP BY col, or COUNT(DISTINCT col)",
                ))
            }
        }
        Ok(Select {
            top: top.map(|top| self.top(top)).transpose()?,
            items: projection
                .into_iter()
                .map(|item| self.select_item(item))
                .collect::<Result<_>>()?,
            from: from_table(from)?,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            group_by: self.group_by(group_by)?,
            having: having.map(|e| self.expr(e)).transpose()?,
            ..Select::default()
        })
    }

    fn top(&self, top: sql::Top) -> Result<u64> {
        if top.percent || top.with_ties {
            return Err(unsupported(
                "TOP ... PERCENT and TOP ... WITH TIES are not supported; write TOP k",
            ));
        }
        match top.quantity {
            Some(sql::TopQuantity::Constant(k)) => Ok(k),
            Some(sql::TopQuantity::Expr(e)) => self.count("TOP", e),
            None => Err(unsupported("TOP needs a count, like TOP 3")),
        }
    }

    fn select_item(&self, item: sql::SelectItem) -> Result<SelectItem> {
        match item {
            sql::SelectItem::UnnamedExpr(e) => Ok(SelectItem::Expr {
                expr: self.expr(e)?,
                alias: None,
            }),
            sql::SelectItem::ExprWithAlias { expr, alias } => Ok(SelectItem::Expr {
                expr: self.expr(expr)?,
                alias: Some(alias.value),
            }),
            sql::SelectItem::Wildcard(options) => {
                let plain = sql::WildcardAdditionalOptions {
                    wildcard_token: options.wildcard_token.clone(),
                    ..Default::default()
                };
                if options == plain {
                    Ok(SelectItem::Wildcard)
                } else {
                    Err(unsupported(format!(
                        "`{options}` after * is not supported; write SELECT * or list the columns"
                    )))
                }
            }
            other => Err(unsupported(format!(
                "`{other}` is not supported; write SELECT * or list the columns"
            ))),
        }
    }

    fn group_by(&self, group_by: sql::GroupByExpr) -> Result<Vec<Expr>> {
        match group_by {
            sql::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                exprs.into_iter().map(|e| self.expr(e)).collect()
            }
            sql::GroupByExpr::Expressions(..) => Err(unsupported(
                "GROUP BY modifiers (ROLLUP, CUBE, TOTALS) are not supported; list the columns",
            )),
            sql::GroupByExpr::All(_) => Err(unsupported(
                "GROUP BY ALL is not supported; list the columns, like GROUP BY user_id",
            )),
        }
    }

    fn order_by(&self, order_by: sql::OrderBy) -> Result<Vec<OrderBy>> {
        if order_by.interpolate.is_some() {
            return Err(unsupported("ORDER BY ... INTERPOLATE is not supported"));
        }
        match order_by.kind {
            sql::OrderByKind::Expressions(exprs) => {
                exprs.into_iter().map(|e| self.order_by_expr(e)).collect()
            }
            sql::OrderByKind::All(_) => Err(unsupported(
                "ORDER BY ALL is not supported; list the columns, like ORDER BY n DESC",
            )),
        }
    }

    fn order_by_expr(&self, order: sql::OrderByExpr) -> Result<OrderBy> {
        if order.with_fill.is_some() {
            return Err(unsupported("ORDER BY ... WITH FILL is not supported"));
        }
        if order.options.nulls_first.is_some() {
            return Err(unsupported(
                "NULLS FIRST / NULLS LAST is not supported; remove it",
            ));
        }
        let desc = match order.options.sort {
            None | Some(sql::OrderBySort::Asc) => false,
            Some(sql::OrderBySort::Desc) => true,
            Some(sql::OrderBySort::Using(_)) => {
                return Err(unsupported(
                    "ORDER BY ... USING is not supported; write ASC or DESC",
                ))
            }
        };
        Ok(OrderBy {
            expr: self.expr(order.expr)?,
            desc,
        })
    }

    fn limit(&self, limit: sql::LimitClause) -> Result<Option<u64>> {
        match limit {
            sql::LimitClause::LimitOffset {
                offset: Some(_), ..
            }
            | sql::LimitClause::OffsetCommaLimit { .. } => Err(unsupported(
                "OFFSET is not supported; use ORDER BY ... LIMIT n",
            )),
            sql::LimitClause::LimitOffset { limit_by, .. } if !limit_by.is_empty() => {
                Err(unsupported("LIMIT ... BY is not supported; write LIMIT n"))
            }
            sql::LimitClause::LimitOffset { limit, .. } => {
                limit.map(|e| self.count("LIMIT", e)).transpose()
            }
        }
    }

    /// A `TOP` or `LIMIT` count: a non-negative integer literal or parameter.
    fn count(&self, clause: &str, expr: sql::Expr) -> Result<u64> {
        let shown = expr.to_string();
        match self.expr(expr)? {
            Expr::Literal(Literal::Int(n)) if n >= 0 => Ok(n.unsigned_abs()),
            _ => Err(unsupported(format!(
                "{clause} takes a non-negative whole number, not `{shown}`"
            ))),
        }
    }

    fn expr(&self, expr: sql::Expr) -> Result<Expr> {
        use sql::Expr as E;
        Ok(match expr {
            E::Identifier(ident) => Expr::Column(ident.value),
            E::CompoundIdentifier(idents) => Expr::Column(dotted(&idents)),
            E::Value(value) => Expr::Literal(self.literal(value.value)?),
            E::Nested(inner) => self.expr(*inner)?,
            E::UnaryOp { op, expr } => self.unary(op, *expr)?,
            E::BinaryOp { left, op, right } => Expr::Binary {
                op: binary_op(&op)?,
                left: Box::new(self.expr(*left)?),
                right: Box::new(self.expr(*right)?),
            },
            E::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: Box::new(self.expr(*expr)?),
                list: list
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
                negated,
            },
            E::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: Box::new(self.expr(*expr)?),
                low: Box::new(self.expr(*low)?),
                high: Box::new(self.expr(*high)?),
                negated,
            },
            E::IsNull(expr) => Expr::IsNull {
                expr: Box::new(self.expr(*expr)?),
                negated: false,
            },
            E::IsNotNull(expr) => Expr::IsNull {
                expr: Box::new(self.expr(*expr)?),
                negated: true,
            },
            E::Function(function) => self.function(function)?,
            other => return Err(unsupported_expr(&other)),
        })
    }

    /// `-5` folds into the literal; `+x` is `x`.
    fn unary(&self, op: sql::UnaryOperator, operand: sql::Expr) -> Result<Expr> {
        match op {
            sql::UnaryOperator::Plus => self.expr(operand),
            sql::UnaryOperator::Not => Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(self.expr(operand)?),
            }),
            sql::UnaryOperator::Minus => match operand {
                // Through the text, so that -9223372036854775808 is an i64.
                sql::Expr::Value(sql::ValueWithSpan {
                    value: sql::Value::Number(digits, _),
                    ..
                }) => Ok(Expr::Literal(number(&format!("-{digits}"))?)),
                operand => Ok(negate(self.expr(operand)?)),
            },
            other => Err(unsupported(format!(
                "the unary operator `{other}` is not supported; use -, + or NOT"
            ))),
        }
    }

    fn literal(&self, value: sql::Value) -> Result<Literal> {
        match value {
            sql::Value::Number(digits, _) => number(&digits),
            sql::Value::SingleQuotedString(s) => Ok(Literal::Str(s)),
            sql::Value::Boolean(b) => Ok(Literal::Bool(b)),
            sql::Value::Null => Ok(Literal::Null),
            sql::Value::Placeholder(p) => self.param(&p),
            other => Err(unsupported(format!(
                "the literal `{other}` is not supported; write strings in 'single quotes'"
            ))),
        }
    }

    /// The value of a `:name` placeholder.
    fn param(&self, placeholder: &str) -> Result<Literal> {
        let Some(name) = placeholder.strip_prefix(':') else {
            return Err(unsupported(format!(
                "the positional parameter `{placeholder}` is not supported; \
                 name it, like :user, and pass --param user=VALUE"
            )));
        };
        self.params.get(name).cloned().ok_or_else(|| {
            unsupported(format!(
                "missing value for parameter :{name}; pass --param {name}=VALUE"
            ))
        })
    }

    fn function(&self, function: sql::Function) -> Result<Expr> {
        let shown = function.to_string();
        let name = function_name(&function.name)?;
        if let sql::FunctionArguments::None = function.args {
            // sqlparser reads a few bare keywords (`user`, `current_date`) as
            // calls without parentheses; to tally a bare word is a column,
            // and `user` is one in the clicks preset.
            if function.filter.is_none() && function.over.is_none() {
                return Ok(Expr::Column(function.name.to_string()));
            }
        }
        if function.over.is_some() {
            return Err(unsupported(format!(
                "window functions (OVER ...) are not supported in `{shown}`; \
                 tally's window is the trailing WINDOW d, like WINDOW 1h"
            )));
        }
        if !function.within_group.is_empty() {
            return Err(unsupported(format!(
                "WITHIN GROUP is not supported in `{shown}`; write PERCENTILE(x, p) or MEDIAN(x)"
            )));
        }
        if function.null_treatment.is_some()
            || function.uses_odbc_syntax
            || !matches!(function.parameters, sql::FunctionArguments::None)
        {
            return Err(unsupported(format!(
                "`{shown}` is not supported; write {}(args)",
                name.to_uppercase()
            )));
        }
        let args = match function.args {
            sql::FunctionArguments::None => sql::FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![],
                clauses: vec![],
            },
            sql::FunctionArguments::List(list) => list,
            sql::FunctionArguments::Subquery(_) => {
                return Err(unsupported(format!(
                    "subqueries are not supported: `{shown}`"
                )))
            }
        };
        if !args.clauses.is_empty() {
            return Err(unsupported(format!(
                "clauses inside a function call (ORDER BY, LIMIT, ...) are not supported: `{shown}`"
            )));
        }
        if name == "percentile" {
            return self.percentile(args, function.filter, &shown);
        }
        match agg_func(&name) {
            Some(func) => self.aggregate(func, args, function.filter, &shown),
            None => self.scalar_function(name, args, function.filter.is_some(), &shown),
        }
    }

    /// `COUNT(*)`, `COUNT(DISTINCT x)`, `SUM(x) FILTER (WHERE ...)`.
    fn aggregate(
        &self,
        func: AggFunc,
        list: sql::FunctionArgumentList,
        filter: Option<Box<sql::Expr>>,
        shown: &str,
    ) -> Result<Expr> {
        let upper = func.to_string().to_uppercase();
        let distinct = matches!(
            list.duplicate_treatment,
            Some(sql::DuplicateTreatment::Distinct)
        );
        let [arg] = <[sql::FunctionArg; 1]>::try_from(list.args).map_err(|_| {
            unsupported(format!(
                "{upper} takes exactly one argument, like {upper}(price), not `{shown}`"
            ))
        })?;
        let arg = match unnamed_arg(arg, shown)? {
            sql::FunctionArgExpr::Expr(e) => Some(Box::new(self.expr(e)?)),
            sql::FunctionArgExpr::Wildcard if func == AggFunc::Count && !distinct => None,
            _ if func == AggFunc::Count => {
                return Err(unsupported(
                    "COUNT(DISTINCT *) is not supported; write COUNT(DISTINCT column)",
                ))
            }
            _ => {
                return Err(unsupported(format!(
                    "{upper}(*) is not valid: only COUNT(*) counts rows; write {upper}(column)"
                )))
            }
        };
        Ok(Expr::Aggregate {
            func,
            arg,
            distinct,
            filter: filter.map(|f| self.expr(*f).map(Box::new)).transpose()?,
        })
    }

    /// `PERCENTILE(x, p)`: p a number literal in 0..=100; the rest is an
    /// ordinary one-argument aggregate.
    fn percentile(
        &self,
        mut list: sql::FunctionArgumentList,
        filter: Option<Box<sql::Expr>>,
        shown: &str,
    ) -> Result<Expr> {
        const USAGE: &str = "write PERCENTILE(column, p) with p a number from 0 to 100, \
                             like PERCENTILE(metadata.view_duration_ms, 99)";
        if list.args.len() != 2 {
            return Err(unsupported(format!(
                "PERCENTILE takes two arguments, not `{shown}`; {USAGE}"
            )));
        }
        let p = match list.args.pop().map(|a| unnamed_arg(a, shown)).transpose()? {
            Some(sql::FunctionArgExpr::Expr(e)) => self.expr(e)?,
            _ => return Err(unsupported(format!("`{shown}`: {USAGE}"))),
        };
        let neg = |e: &Expr| match e {
            Expr::Literal(Literal::Int(i)) => Some(-(*i as f64)),
            Expr::Literal(Literal::Float(x)) => Some(-x),
            _ => None,
        };
        let p = match p {
            Expr::Literal(Literal::Int(i)) => i as f64,
            Expr::Literal(Literal::Float(x)) => x,
            Expr::Unary {
                op: UnaryOp::Neg,
                ref expr,
            } if neg(expr).is_some() => neg(expr).unwrap_or(-1.0),
            other => {
                return Err(unsupported(format!(
                    "PERCENTILE's p must be a number literal, not `{other}`; {USAGE}"
                )))
            }
        };
        if !(0.0..=100.0).contains(&p) {
            return Err(unsupported(format!(
                "PERCENTILE's p is {p}, outside 0..=100; {USAGE}"
            )));
        }
        self.aggregate(AggFunc::Percentile(Percent(p)), list, filter, shown)
    }

    fn scalar_function(
        &self,
        name: String,
        list: sql::FunctionArgumentList,
        has_filter: bool,
        shown: &str,
    ) -> Result<Expr> {
        if has_filter {
            return Err(unsupported(format!(
                "FILTER (WHERE ...) applies only to aggregates (COUNT, SUM, MIN, MAX, AVG): `{shown}`"
            )));
        }
        if list.duplicate_treatment.is_some() {
            return Err(unsupported(format!(
                "DISTINCT / ALL applies only to aggregates: `{shown}`"
            )));
        }
        let args = list
            .args
            .into_iter()
            .map(|arg| match unnamed_arg(arg, shown)? {
                sql::FunctionArgExpr::Expr(e) => self.expr(e),
                _ => Err(unsupported(format!(
                    "`*` is only allowed in COUNT(*), not in `{shown}`"
                ))),
            })
            .collect::<Result<_>>()?;
        Ok(Expr::Function { name, args })
    }
}

/// Rejects the clauses of sqlparser's `Query` that tally has no use for.
fn reject_query_extras(query: &sql::Query) -> Result<()> {
    if query.with.is_some() {
        return Err(unsupported(format!(
            "WITH (common table expressions) is not supported; write {SELECT_SHAPE}"
        )));
    }
    let extras = [
        (
            query.fetch.is_some(),
            "FETCH FIRST ... ROWS (write LIMIT n)",
        ),
        (!query.locks.is_empty(), "FOR UPDATE / FOR SHARE"),
        (query.for_clause.is_some(), "FOR XML / FOR JSON"),
        (query.settings.is_some(), "SETTINGS"),
        (query.format_clause.is_some(), "FORMAT"),
        (!query.pipe_operators.is_empty(), "pipe operators (|>)"),
    ];
    reject_first(&extras)
}

/// Rejects the clauses of sqlparser's `Select` that tally has no use for.
fn reject_select_extras(select: &sql::Select) -> Result<()> {
    if !select.named_window.is_empty() {
        return Err(unsupported(
            "named windows (WINDOW w AS (...)) are not supported; tally's WINDOW takes a \
             duration and comes last, like WINDOW 1h",
        ));
    }
    let extras = [
        (select.select_modifiers.is_some(), "MySQL SELECT modifiers"),
        (select.exclude.is_some(), "SELECT ... EXCLUDE"),
        (select.into.is_some(), "SELECT INTO"),
        (!select.lateral_views.is_empty(), "LATERAL VIEW"),
        (select.prewhere.is_some(), "PREWHERE"),
        (!select.connect_by.is_empty(), "CONNECT BY"),
        (!select.cluster_by.is_empty(), "CLUSTER BY"),
        (!select.distribute_by.is_empty(), "DISTRIBUTE BY"),
        (!select.sort_by.is_empty(), "SORT BY (write ORDER BY)"),
        (select.qualify.is_some(), "QUALIFY"),
        (
            select.value_table_mode.is_some(),
            "SELECT AS STRUCT / VALUE",
        ),
        (
            select.flavor != sql::SelectFlavor::Standard,
            "FROM-first queries (write SELECT ... FROM events)",
        ),
    ];
    reject_first(&extras)
}

/// Errors on the first `(present, what)` that is present.
fn reject_first(extras: &[(bool, &str)]) -> Result<()> {
    match extras.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(unsupported(format!(
            "{what} is not supported; tally answers {SELECT_SHAPE}"
        ))),
        None => Ok(()),
    }
}

/// The one table of `FROM`, lowercased. The planner checks it is `events`.
fn from_table(from: Vec<sql::TableWithJoins>) -> Result<String> {
    let mut from = from.into_iter();
    let (Some(table), None) = (from.next(), from.next()) else {
        return Err(unsupported(
            "expected FROM events: tally queries exactly one table, the event stream",
        ));
    };
    if !table.joins.is_empty() {
        return Err(unsupported(
            "JOIN is not supported; tally queries one table: FROM events",
        ));
    }
    let shown = table.relation.to_string();
    let sql::TableFactor::Table {
        name,
        alias,
        args,
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_hints,
    } = table.relation
    else {
        return Err(unsupported(format!(
            "`{shown}` in FROM is not supported (no subqueries or table functions); write FROM events"
        )));
    };
    if alias.is_some() {
        return Err(unsupported(format!(
            "table aliases are not supported (`{shown}`); write FROM events and name columns directly"
        )));
    }
    let plain = args.is_none()
        && with_hints.is_empty()
        && version.is_none()
        && !with_ordinality
        && partitions.is_empty()
        && json_path.is_none()
        && sample.is_none()
        && index_hints.is_empty();
    if !plain {
        return Err(unsupported(format!(
            "`{shown}` is not supported in FROM; write FROM events"
        )));
    }
    let parts = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(|ident| ident.value.to_lowercase())
                .ok_or_else(|| {
                    unsupported(format!(
                        "`{name}` in FROM is not supported; write FROM events"
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.join("."))
}

/// A function's name, lowercased; qualified names (`a.b(...)`) are rejected.
fn function_name(name: &sql::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(|ident| ident.value.to_lowercase())
            .ok_or_else(|| unsupported(format!("the function name `{name}` is not supported"))),
        _ => Err(unsupported(format!(
            "qualified function names like `{name}` are not supported"
        ))),
    }
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "avg" => AggFunc::Avg,
        "median" => AggFunc::Median,
        "approx_count_distinct" => AggFunc::ApproxCountDistinct,
        _ => return None,
    })
}

/// Positional arguments only: `f(x)`, not `f(a => x)`.
fn unnamed_arg(arg: sql::FunctionArg, shown: &str) -> Result<sql::FunctionArgExpr> {
    match arg {
        sql::FunctionArg::Unnamed(arg) => Ok(arg),
        _ => Err(unsupported(format!(
            "named arguments are not supported: `{shown}`"
        ))),
    }
}

/// `metadata.view_duration_ms`: the dotted path of a nested field.
fn dotted(idents: &[sql::Ident]) -> String {
    let parts: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
    parts.join(".")
}

/// A numeric literal: `Int` when it is a whole number that fits an `i64`,
/// else `Float`.
fn number(text: &str) -> Result<Literal> {
    let whole = !text.contains(['.', 'e', 'E']);
    if whole {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Literal::Int(i));
        }
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Literal::Float(x)),
        _ => Err(unsupported(format!("the number {text} is out of range"))),
    }
}

/// `-e`, folded when `e` is a numeric literal (a `:param` value, say).
fn negate(expr: Expr) -> Expr {
    match expr {
        Expr::Literal(Literal::Int(i)) if i != i64::MIN => Expr::Literal(Literal::Int(-i)),
        Expr::Literal(Literal::Float(x)) => Expr::Literal(Literal::Float(-x)),
        expr => Expr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(expr),
        },
    }
}

fn binary_op(op: &sql::BinaryOperator) -> Result<BinaryOp> {
    use sql::BinaryOperator as B;
    Ok(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        other => {
            return Err(unsupported(format!(
                "the operator `{other}` is not supported; use + - * / %, = <> < <= > >=, AND, OR"
            )))
        }
    })
}

/// Names the expression tally does not support, with what to write instead.
fn unsupported_expr(expr: &sql::Expr) -> Error {
    use sql::Expr as E;
    let hint = match expr {
        E::Subquery(_) | E::InSubquery { .. } | E::Exists { .. } => {
            "subqueries are not supported; tally queries one table: FROM events"
        }
        E::Like { .. } | E::ILike { .. } | E::SimilarTo { .. } | E::RLike { .. } => {
            "pattern matching (LIKE) is not supported; use = or IN (...)"
        }
        E::Case { .. } => {
            "CASE is not supported; for conditional aggregates use FILTER (WHERE ...)"
        }
        E::Cast { .. } => "CAST is not supported",
        E::IsTrue(_) | E::IsFalse(_) | E::IsNotTrue(_) | E::IsNotFalse(_) => {
            "IS [NOT] TRUE/FALSE is not supported; write x = TRUE"
        }
        E::Wildcard(_) | E::QualifiedWildcard(..) => "`*` is only allowed as SELECT * or COUNT(*)",
        _ => "this expression is not supported",
    };
    unsupported(format!("`{expr}`: {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(sql: &str) -> Vec<Statement> {
        match parse(sql, &Params::new()) {
            Ok(statements) => statements,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    /// The one SELECT of `sql`.
    fn select(sql: &str) -> Select {
        match parse_all(sql).as_slice() {
            [Statement::Select(s)] => s.clone(),
            other => panic!("{sql}: expected one SELECT, got {other:?}"),
        }
    }

    fn query_error(sql: &str) -> String {
        match parse(sql, &Params::new()) {
            Err(Error::Query(message)) => message,
            other => panic!("{sql}: expected a query error, got {other:?}"),
        }
    }

    fn syntax(sql: &str) -> SyntaxError {
        match parse(sql, &Params::new()) {
            Err(Error::Syntax(e)) => e,
            other => panic!("{sql}: expected a syntax error, got {other:?}"),
        }
    }

    fn col(name: &str) -> Expr {
        Expr::Column(name.into())
    }

    fn int(i: i64) -> Expr {
        Expr::Literal(Literal::Int(i))
    }

    fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    fn agg(func: AggFunc, arg: Option<Expr>) -> Expr {
        Expr::Aggregate {
            func,
            arg: arg.map(Box::new),
            distinct: false,
            filter: None,
        }
    }

    fn count_star() -> Expr {
        agg(AggFunc::Count, None)
    }

    fn item(expr: Expr) -> SelectItem {
        SelectItem::Expr { expr, alias: None }
    }

    fn aliased(expr: Expr, alias: &str) -> SelectItem {
        SelectItem::Expr {
            expr,
            alias: Some(alias.into()),
        }
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn j1_top_k() {
        assert_eq!(
            select("SELECT TOP 3 event_type FROM events WINDOW 1h"),
            Select {
                top: Some(3),
                items: vec![item(col("event_type"))],
                from: "events".into(),
                window_ms: Some(HOUR),
                ..Select::default()
            }
        );
    }

    #[test]
    fn j2_rate_limit_with_having_on_alias() {
        let s = select(
            "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id HAVING n > 20 WINDOW 60s",
        );
        assert_eq!(
            s.items,
            vec![item(col("user_id")), aliased(count_star(), "n")]
        );
        assert_eq!(s.group_by, vec![col("user_id")]);
        assert_eq!(s.having, Some(bin(BinaryOp::Gt, col("n"), int(20))));
        assert_eq!(s.window_ms, Some(60_000));
    }

    #[test]
    fn j3_count_in_window() {
        let s = select("SELECT COUNT(*) FROM events WINDOW 5m;");
        assert_eq!(s.items, vec![item(count_star())]);
        assert_eq!(s.window_ms, Some(300_000));
    }

    #[test]
    fn j6_filter_and_arithmetic_on_aggregates() {
        let s = select(
            "SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos, \
                    SUM(metadata.view_duration_ms) / 60000.0 AS minutes, \
                    COUNT(*) FILTER (WHERE event_type = 'like') * 1.0 \
                      / COUNT(*) FILTER (WHERE event_type = 'video_view') AS rate \
             FROM events WHERE user_id = 987654321 WINDOW 24h",
        );
        let counted = |t: &str| Expr::Aggregate {
            func: AggFunc::Count,
            arg: None,
            distinct: false,
            filter: Some(Box::new(bin(
                BinaryOp::Eq,
                col("event_type"),
                Expr::Literal(Literal::Str(t.into())),
            ))),
        };
        let minutes = bin(
            BinaryOp::Div,
            agg(AggFunc::Sum, Some(col("metadata.view_duration_ms"))),
            Expr::Literal(Literal::Float(60000.0)),
        );
        let rate = bin(
            BinaryOp::Div,
            bin(
                BinaryOp::Mul,
                counted("like"),
                Expr::Literal(Literal::Float(1.0)),
            ),
            counted("video_view"),
        );
        assert_eq!(
            s.items,
            vec![
                aliased(counted("video_view"), "videos"),
                aliased(minutes, "minutes"),
                aliased(rate, "rate"),
            ]
        );
        assert_eq!(
            s.filter,
            Some(bin(BinaryOp::Eq, col("user_id"), int(987_654_321)))
        );
        assert_eq!(s.window_ms, Some(24 * HOUR));
    }

    #[test]
    fn j7_viral_videos() {
        let s = select(
            "SELECT video_id, \
                    COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, \
                    (COUNT(*) FILTER (WHERE event_type = 'share') \
                     + COUNT(*) FILTER (WHERE event_type = 'comment')) * 1.0 / views AS virality \
             FROM events GROUP BY video_id \
             HAVING views >= 1000 AND virality > 1.5 \
             ORDER BY virality DESC LIMIT 10 WINDOW 2h",
        );
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.group_by, vec![col("video_id")]);
        assert_eq!(
            s.having,
            Some(bin(
                BinaryOp::And,
                bin(BinaryOp::GtEq, col("views"), int(1000)),
                bin(
                    BinaryOp::Gt,
                    col("virality"),
                    Expr::Literal(Literal::Float(1.5))
                ),
            ))
        );
        assert_eq!(
            s.order_by,
            vec![OrderBy {
                expr: col("virality"),
                desc: true
            }]
        );
        assert_eq!(s.limit, Some(10));
        assert_eq!(s.window_ms, Some(2 * HOUR));
    }

    #[test]
    fn j9_count_min_max_avg() {
        // `value` is a keyword in SQL and a field of the stats preset.
        let s = select("SELECT COUNT(*), MIN(value), MAX(value), AVG(value) FROM events WINDOW 1h");
        assert_eq!(
            s.items,
            vec![
                item(count_star()),
                item(agg(AggFunc::Min, Some(col("value")))),
                item(agg(AggFunc::Max, Some(col("value")))),
                item(agg(AggFunc::Avg, Some(col("value")))),
            ]
        );
    }

    #[test]
    fn j5_percentiles_and_distinct_aliases_are_aggregates() {
        let s = select(
            "SELECT MEDIAN(metadata.view_duration_ms), \
                    Percentile(metadata.view_duration_ms, 99.5), \
                    approx_count_distinct(user_id) FROM events WINDOW 1h",
        );
        assert_eq!(
            s.items,
            vec![
                item(agg(AggFunc::Median, Some(col("metadata.view_duration_ms")))),
                item(agg(
                    AggFunc::Percentile(Percent(99.5)),
                    Some(col("metadata.view_duration_ms"))
                )),
                item(agg(AggFunc::ApproxCountDistinct, Some(col("user_id")))),
            ]
        );
        let SelectItem::Expr { expr, .. } = &s.items[1] else {
            panic!("an expression")
        };
        assert_eq!(
            expr.to_string(),
            "percentile(metadata.view_duration_ms, 99.5)"
        );
        for (sql, expected) in [
            ("SELECT PERCENTILE(x, 101) FROM events", "outside 0..=100"),
            ("SELECT PERCENTILE(x, -1) FROM events", "outside 0..=100"),
            ("SELECT PERCENTILE(x, y) FROM events", "a number literal"),
            ("SELECT PERCENTILE(x) FROM events", "two arguments"),
            ("SELECT PERCENTILE(x, 1, 2) FROM events", "two arguments"),
            ("SELECT MEDIAN(x, 2) FROM events", "exactly one argument"),
            ("SELECT MEDIAN(*) FROM events", "only COUNT(*)"),
        ] {
            let err = parse(sql, &Params::new()).unwrap_err().to_string();
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }

    #[test]
    fn preset_field_names_are_columns() {
        let s = select(
            "SELECT type, user, ts, id, category, event, payload.value, timestamp, value \
             FROM events WHERE timestamp > 0 AND user = 'u1'",
        );
        let names: Vec<String> = s
            .items
            .iter()
            .map(|i| match i {
                SelectItem::Expr { expr, .. } => expr.to_string(),
                SelectItem::Wildcard => "*".into(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "type",
                "user",
                "ts",
                "id",
                "category",
                "event",
                "payload.value",
                "timestamp",
                "value",
            ]
        );
        assert_eq!(
            s.filter.map(|f| f.to_string()),
            Some("((timestamp > 0) AND (user = 'u1'))".into())
        );
    }

    #[test]
    fn raw_events_wildcard_order_and_no_window() {
        let s = select("select * from EVENTS order by ts, type asc, user desc limit 5");
        assert_eq!(s.items, vec![SelectItem::Wildcard]);
        assert_eq!(s.from, "events");
        assert_eq!(
            s.order_by.iter().map(|o| o.desc).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(s.limit, Some(5));
        assert_eq!(s.window_ms, None);
    }

    #[test]
    fn count_distinct_and_case_insensitive_aggregates() {
        let s = select("SELECT count(DISTINCT user_id), Sum(price) FROM events");
        assert_eq!(
            s.items,
            vec![
                item(Expr::Aggregate {
                    func: AggFunc::Count,
                    arg: Some(Box::new(col("user_id"))),
                    distinct: true,
                    filter: None,
                }),
                item(agg(AggFunc::Sum, Some(col("price")))),
            ]
        );
    }

    #[test]
    fn predicates() {
        let s = select(
            "SELECT COUNT(*) FROM events WHERE NOT (type IN ('a', 'b') OR x NOT IN (1)) \
             AND y BETWEEN 1 AND 2 AND z NOT BETWEEN -1 AND +2 AND w IS NULL AND v IS NOT NULL \
             AND a == 1 AND b != 2 AND c <> 3 AND d < 4 AND e <= 5 AND f >= 6 AND g % 2 = 0",
        );
        let text = s.filter.map(|f| f.to_string()).unwrap_or_default();
        for part in [
            "NOT (type IN ('a', 'b') OR x NOT IN (1))",
            "y BETWEEN 1 AND 2",
            "z NOT BETWEEN -1 AND 2",
            "w IS NULL",
            "v IS NOT NULL",
            "(a = 1)",
            "(b <> 2)",
            "(c <> 3)",
            "(d < 4)",
            "(e <= 5)",
            "(f >= 6)",
            "((g % 2) = 0)",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }

    #[test]
    fn literals_and_unary_operators() {
        let s = select(
            "SELECT -5, - x, -(1.5), 9223372036854775808, -9223372036854775808, 1e3, \
                    TRUE, false, NULL, 'it''s', \"Quoted Col\" FROM events",
        );
        let exprs: Vec<Expr> = s
            .items
            .into_iter()
            .filter_map(|i| match i {
                SelectItem::Expr { expr, .. } => Some(expr),
                SelectItem::Wildcard => None,
            })
            .collect();
        assert_eq!(
            exprs,
            vec![
                int(-5),
                Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(col("x"))
                },
                Expr::Literal(Literal::Float(-1.5)),
                Expr::Literal(Literal::Float(9_223_372_036_854_775_808.0)),
                int(i64::MIN),
                Expr::Literal(Literal::Float(1000.0)),
                Expr::Literal(Literal::Bool(true)),
                Expr::Literal(Literal::Bool(false)),
                Expr::Literal(Literal::Null),
                Expr::Literal(Literal::Str("it's".into())),
                col("Quoted Col"),
            ]
        );
    }

    #[test]
    fn create_drop_and_show_rules() {
        let sql = "CREATE RULE Rate_Limit AS SELECT user_id, COUNT(*) AS n FROM events \
                   GROUP BY user_id HAVING n >   20\n AND n < 1000 WINDOW 60s; \
                   drop rule \"Rate_Limit\"; SHOW RULES";
        let statements = parse_all(sql);
        let [Statement::CreateRule(def), Statement::DropRule(dropped), Statement::ShowRules] =
            statements.as_slice()
        else {
            panic!("{statements:?}");
        };
        assert_eq!(def.name, "rate_limit", "unquoted names fold to lower case");
        assert_eq!(dropped, "Rate_Limit", "quoted names keep their case");
        assert_eq!(def.condition, "n > 20 AND n < 1000");
        assert_eq!(
            def.select,
            select(
                "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id \
                 HAVING n > 20 AND n < 1000 WINDOW 60s"
            )
        );
    }

    #[test]
    fn rule_condition_text_binds_params_and_stops_at_order_by() {
        let mut params = Params::new();
        params.insert("min".into(), Literal::Int(7));
        let sql = "CREATE RULE r AS SELECT video_id, COUNT(*) AS v FROM events \
                   GROUP BY video_id HAVING v >= :min AND (v / 2) > 1.5 ORDER BY v LIMIT 3 WINDOW 2h";
        let statements = parse(sql, &params).unwrap();
        let [Statement::CreateRule(def)] = statements.as_slice() else {
            panic!()
        };
        assert_eq!(def.condition, "v >= 7 AND (v / 2) > 1.5");
        let no_having = "CREATE RULE r AS SELECT user_id FROM events GROUP BY user_id WINDOW 1m";
        let statements = parse_all(no_having);
        let [Statement::CreateRule(def)] = statements.as_slice() else {
            panic!()
        };
        assert_eq!(def.condition, "");
    }

    #[test]
    fn bad_rule_statements_are_positioned_errors() {
        let e = syntax("CREATE RULE");
        assert!(e.message.contains("expected a rule name"), "{e:?}");
        let e = syntax("CREATE RULE AS SELECT 1");
        assert!(e.message.contains("expected a rule name"), "{e:?}");
        let e = syntax("CREATE RULE 9lives AS SELECT COUNT(*) FROM events");
        assert!(e.message.contains("expected a rule name, found 9"), "{e:?}");
        assert_eq!(e.column, 13);
        let e = syntax("CREATE RULE \"my rule\" AS SELECT COUNT(*) FROM events");
        assert!(e.message.contains("letters, digits"), "{e:?}");
        let e = syntax("CREATE RULE r SELECT COUNT(*) FROM events");
        assert!(e.message.contains("expected AS"), "{e:?}");
        assert_eq!(e.column, 15);
        let e = syntax("CREATE RULE r AS");
        assert!(e.message.contains("expected a SELECT"), "{e:?}");
        let e = syntax("DROP RULE r extra");
        assert!(e.message.contains("unexpected extra"), "{e:?}");
        let e = syntax("DROP RULE");
        assert!(e.message.contains("DROP RULE name"), "{e:?}");
        // CREATE of anything else is still plain unsupported SQL.
        assert!(query_error("CREATE TABLE t (a INT)").contains("CREATE RULE"));
        assert!(query_error("SHOW RULE").contains("SHOW RULES"));
    }

    #[test]
    fn explain_and_show_stats() {
        let statements =
            parse_all("EXPLAIN SELECT TOP 3 event_type FROM events WINDOW 1h; show stats");
        assert_eq!(
            statements,
            vec![
                Statement::Explain(select("SELECT TOP 3 event_type FROM events WINDOW 1h")),
                Statement::ShowStats,
            ]
        );
        let e = query_error("SHOW TABLES");
        assert!(e.contains("SHOW TABLES") && e.contains("SHOW STATS"), "{e}");
        assert!(query_error("SHOW").contains("SHOW STATS"));
        assert!(query_error("EXPLAIN INSERT INTO events VALUES (1)").contains("INSERT"));
        assert_eq!(syntax("EXPLAIN").line, 1);
    }

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
    fn window_forms() {
        for (text, ms) in [
            ("1h", HOUR),
            ("1 h", HOUR),
            ("90s", 90_000),
            ("5m", 300_000),
            ("2d", 2 * 24 * HOUR),
            ("'1h'", HOUR),
            ("'30 minutes'", 1_800_000),
            ("1 hour", HOUR),
            ("30 minutes", 1_800_000),
            ("10 seconds", 10_000),
            ("2 days", 2 * 24 * HOUR),
            ("1H", HOUR),
        ] {
            let s = select(&format!(
                "SELECT COUNT(*) FROM events window {text} -- done\n;"
            ));
            assert_eq!(s.window_ms, Some(ms), "WINDOW {text}");
        }
    }

    #[test]
    fn window_in_a_string_or_comment_is_not_the_clause() {
        let s = select("SELECT COUNT(*) FROM events WHERE note = 'WINDOW 1h'");
        assert_eq!(s.window_ms, None);
        assert_eq!(
            s.filter,
            Some(bin(
                BinaryOp::Eq,
                col("note"),
                Expr::Literal(Literal::Str("WINDOW 1h".into()))
            ))
        );
        let s = select("SELECT COUNT(*) FROM events -- WINDOW 1h\n");
        assert_eq!(s.window_ms, None);
        let s = select("SELECT COUNT(*) FROM events /* WINDOW 1h */ WINDOW 5m");
        assert_eq!(s.window_ms, Some(300_000));
    }

    #[test]
    fn bad_windows_are_positioned_errors() {
        for (sql, column) in [
            ("SELECT COUNT(*) FROM events WINDOW 0s", 36),
            ("SELECT COUNT(*) FROM events WINDOW -1h", 36),
            ("SELECT COUNT(*) FROM events WINDOW 1.5h", 36),
            ("SELECT COUNT(*) FROM events WINDOW 5 fortnights", 36),
            ("SELECT COUNT(*) FROM events WINDOW '1 lightyear'", 36),
            ("SELECT COUNT(*) FROM events WINDOW h", 36),
            ("SELECT COUNT(*) FROM events WINDOW 60", 36),
            ("SELECT COUNT(*) FROM events WINDOW", 35),
        ] {
            let e = syntax(sql);
            assert_eq!((e.line, e.column), (1, column), "{sql}: {e}");
            assert!(e.message.contains("1h"), "{sql}: {e}");
        }
    }

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
    fn params() {
        let mut params = Params::new();
        params.insert("user".into(), Literal::Int(987_654_321));
        params.insert("kind".into(), Literal::Str("like".into()));
        params.insert("k".into(), Literal::Int(3));
        params.insert("n".into(), Literal::Int(20));
        let statements = parse(
            "SELECT TOP (:k) video_id FROM events WHERE user_id = :user AND type = :kind; \
             SELECT -:n AS m FROM events LIMIT :n",
            &params,
        );
        let Ok(statements) = statements else {
            panic!("{statements:?}");
        };
        let [Statement::Select(first), Statement::Select(second)] = statements.as_slice() else {
            panic!("{statements:?}");
        };
        assert_eq!(first.top, Some(3));
        assert_eq!(
            first.filter.as_ref().map(|f| f.to_string()),
            Some("((user_id = 987654321) AND (type = 'like'))".into())
        );
        assert_eq!(second.items, vec![aliased(int(-20), "m")]);
        assert_eq!(second.limit, Some(20));

        let e = query_error("SELECT COUNT(*) FROM events WHERE user_id = :user");
        assert_eq!(
            e,
            "missing value for parameter :user; pass --param user=VALUE"
        );
        assert!(query_error("SELECT COUNT(*) FROM events WHERE user_id = $1").contains(":user"));
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

    #[test]
    fn rejections_say_what_is_unsupported() {
        for (sql, expected) in [
            ("INSERT INTO events VALUES (1)", "INSERT statements"),
            ("UPDATE events SET a = 1", "UPDATE statements"),
            ("DELETE FROM events", "DELETE statements"),
            ("SELECT a FROM events UNION SELECT a FROM events", "UNION"),
            (
                "SELECT a FROM events INTERSECT SELECT a FROM events",
                "INTERSECT",
            ),
            ("WITH t AS (SELECT a FROM events) SELECT a FROM t", "WITH"),
            (
                "SELECT a FROM events JOIN users ON events.u = users.u",
                "JOIN",
            ),
            ("SELECT a FROM events, users", "exactly one table"),
            ("SELECT a FROM (SELECT a FROM events)", "no subqueries"),
            ("SELECT a FROM events e", "aliases"),
            (
                "SELECT a FROM events WHERE a IN (SELECT a FROM events)",
                "subqueries",
            ),
            ("SELECT (SELECT 1) FROM events", "subqueries"),
            ("SELECT a FROM events LIMIT 1 OFFSET 2", "OFFSET"),
            ("SELECT a FROM events LIMIT 2, 1", "OFFSET"),
            ("SELECT a FROM events LIMIT -1", "non-negative"),
            ("SELECT a FROM events LIMIT 1.5", "non-negative"),
            ("SELECT a FROM events LIMIT x", "non-negative"),
            ("SELECT DISTINCT a FROM events", "SELECT DISTINCT"),
            ("SELECT TOP 10 PERCENT a FROM events", "PERCENT"),
            (
                "SELECT TOP 3 WITH TIES a FROM events ORDER BY a",
                "WITH TIES",
            ),
            (
                "SELECT a, COUNT(*) FROM events GROUP BY ALL",
                "GROUP BY ALL",
            ),
            ("SELECT a FROM events ORDER BY a NULLS FIRST", "NULLS FIRST"),
            ("SELECT COUNT(*) OVER (PARTITION BY a) FROM events", "OVER"),
            ("SELECT SUM(*) FROM events", "SUM(*)"),
            ("SELECT SUM(a, b) FROM events", "exactly one argument"),
            ("SELECT COUNT() FROM events", "exactly one argument"),
            (
                "SELECT COUNT(DISTINCT *) FROM events",
                "COUNT(DISTINCT column)",
            ),
            (
                "SELECT ROUND(x, 2) FILTER (WHERE a = 1) FROM events",
                "only to aggregates",
            ),
            ("SELECT ABS(*) FROM events", "COUNT(*)"),
            ("SELECT a FROM events WHERE a LIKE 'x%'", "LIKE"),
            ("SELECT CASE WHEN a THEN 1 END FROM events", "CASE"),
            ("SELECT CAST(a AS INT) FROM events", "CAST"),
            ("SELECT a || b FROM events", "operator `||`"),
            ("SELECT a FROM events WHERE a IS TRUE", "IS [NOT] TRUE"),
            ("SELECT a", "expected FROM events"),
            ("SELECT a FROM events FETCH FIRST 3 ROWS ONLY", "LIMIT n"),
            ("SELECT t.* FROM events", "SELECT *"),
            ("SELECT 'x' FROM events WHERE a = E'x'", "single quotes"),
        ] {
            let e = query_error(sql);
            assert!(e.contains(expected), "{sql}: {e:?} lacks {expected:?}");
        }
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
