//! tally's extensions to SQL, recognized on tokens.
//!
//! sqlparser reads standard SQL; tally adds a few words of its own, and
//! this file finds them in a statement's token stream before sqlparser
//! sees it:
//!
//! - the leading `EXPLAIN`, `SHOW STATS` / `SHOW RULES`, and
//!   `CREATE RULE name AS <select>` / `DROP RULE name` ([`statement`]);
//! - the trailing `WINDOW d` ([`split_window`]), removed and returned as
//!   milliseconds;
//! - the bare width of `TIME_BUCKET(1h, ts)` ([`quote_bucket_widths`]),
//!   quoted so that SQL can parse it as an argument.
//!
//! Working on tokens, never on the raw text, means a `WINDOW 1h` inside a
//! string literal or a comment is never mistaken for the clause, and every
//! error keeps the position the tokenizer gave. `TOP k` is not here:
//! sqlparser reads it (it is MS SQL's), the lowering takes its count, and
//! the planner turns it into GROUP BY, ORDER BY and LIMIT. This file does
//! not run sqlparser nor build a [`crate::query::Select`]; the parser's
//! façade does, with what is returned here.

use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan};

use super::lower_expr::Params;
use super::syntax::{is_word, syntax_error};
use crate::error::{query_err, Error, Result};
use crate::time::{parse_duration, Millis};

/// What a statement's leading words make of it.
pub(super) enum Leading<'t> {
    /// A query: the whole statement, which starts there.
    Select(Location),
    /// `EXPLAIN <select>`: the select's tokens, and where an empty one
    /// (`EXPLAIN` alone) is reported.
    Explain(&'t [TokenWithSpan], Location),
    /// `SHOW STATS`, complete.
    ShowStats,
    /// `SHOW RULES`, complete.
    ShowRules,
    /// `CREATE RULE name AS <select>`.
    CreateRule(RuleHead<'t>),
    /// `DROP RULE [IF EXISTS] name`: the name, and whether `IF EXISTS` was given.
    DropRule(String, bool),
}

/// `CREATE RULE name AS` and the select after it.
pub(super) struct RuleHead<'t> {
    pub name: String,
    /// The select's tokens, never empty.
    pub body: &'t [TokenWithSpan],
    /// Just after `AS`, where errors on the select start.
    pub after_as: Location,
}

/// Recognizes tally's leading words. `tokens` is never empty.
pub(super) fn statement(tokens: &[TokenWithSpan]) -> Result<Leading<'_>> {
    let Some((first, rest)) = tokens.split_first() else {
        return Err(Error::Internal("empty statement reached the parser".into()));
    };
    if is_word(first, "EXPLAIN") {
        return Ok(Leading::Explain(rest, first.span.end));
    }
    if is_word(first, "SHOW") {
        return show(rest);
    }
    if is_word(first, "CREATE") && rest.first().is_some_and(|t| is_word(t, "RULE")) {
        return create_rule(first, &rest[1..]).map(Leading::CreateRule);
    }
    if is_word(first, "DROP") && rest.first().is_some_and(|t| is_word(t, "RULE")) {
        let (name, if_exists) = drop_rule(first, &rest[1..])?;
        return Ok(Leading::DropRule(name, if_exists));
    }
    Ok(Leading::Select(first.span.start))
}

/// `SHOW STATS` and `SHOW RULES`.
fn show(rest: &[TokenWithSpan]) -> Result<Leading<'_>> {
    match rest {
        [what] if is_word(what, "STATS") => Ok(Leading::ShowStats),
        [what] if is_word(what, "RULES") => Ok(Leading::ShowRules),
        _ => {
            let what: Vec<String> = rest.iter().map(|t| t.token.to_string()).collect();
            Err(query_err!(
                "SHOW {} is not supported; SHOW supports: SHOW STATS, SHOW RULES",
                what.join(" ")
            ))
        }
    }
}

/// The shape of a rule, quoted in rejection messages.
const RULE_SHAPE: &str = "CREATE RULE name AS SELECT key, aggregates FROM events [WHERE ...] \
                          GROUP BY key HAVING condition WINDOW d";

/// `CREATE RULE name AS <select>`; `rest` follows `RULE`. Only the syntax
/// is checked here: the rules module checks the select's shape against the
/// schema (one actor key, HAVING, WINDOW).
fn create_rule<'t>(create: &TokenWithSpan, rest: &'t [TokenWithSpan]) -> Result<RuleHead<'t>> {
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
    Ok(RuleHead {
        name,
        body,
        after_as: as_token.span.end,
    })
}

/// The condition of a rule, for `SHOW RULES`: the `HAVING` text of its
/// select (`body`, `WINDOW d` included).
pub(super) fn rule_condition(body: &[TokenWithSpan], params: &Params) -> Result<String> {
    let (sql_body, _) = split_window(body)?;
    Ok(having_text(sql_body, params))
}

/// `DROP RULE [IF EXISTS] name`; `rest` follows `RULE`.
fn drop_rule(drop: &TokenWithSpan, rest: &[TokenWithSpan]) -> Result<(String, bool)> {
    let (if_exists, rest) = match rest {
        [if_word, exists, rest @ ..] if is_word(if_word, "IF") && is_word(exists, "EXISTS") => {
            (true, rest)
        }
        _ => (false, rest),
    };
    let after_rule = rest.first().map_or(drop.span.end, |t| t.span.start);
    let (name, rest) = rule_name(rest, after_rule, "DROP RULE [IF EXISTS] name")?;
    if let Some(extra) = rest.first() {
        return Err(syntax_error(
            format!(
                "unexpected {} after the rule name: DROP RULE [IF EXISTS] name",
                extra.token
            ),
            extra.span.start,
        ));
    }
    Ok((name, if_exists))
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

/// Removes a trailing `WINDOW <duration>` and returns the duration.
///
/// Only the last `WINDOW` word counts, and only when what follows it looks
/// like a duration (`1h`, `1 hour`, `'1h'`, `-1h`, nothing). Any other
/// `WINDOW` (misplaced, or SQL's named `WINDOW w AS (...)`) is left to
/// sqlparser, and the syntax errors explain it if it fails.
pub(super) fn split_window(tokens: &[TokenWithSpan]) -> Result<(&[TokenWithSpan], Option<Millis>)> {
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
pub(super) fn quote_bucket_widths(tokens: &[TokenWithSpan]) -> Vec<TokenWithSpan> {
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
                    Span::new(number.span.start, unit.span.end),
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{parse, Params};
    use crate::query::ast::{BinaryOp, Expr, Literal, Statement};

    #[test]
    fn create_drop_and_show_rules() {
        let sql = "CREATE RULE Rate_Limit AS SELECT user_id, COUNT(*) AS n FROM events \
                   GROUP BY user_id HAVING n >   20\n AND n < 1000 WINDOW 60s; \
                   drop rule \"Rate_Limit\"; SHOW RULES";
        let statements = parse_all(sql);
        let [Statement::CreateRule(def), Statement::DropRule {
            name: dropped,
            if_exists: false,
        }, Statement::ShowRules] = statements.as_slice()
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
    fn drop_rule_if_exists() {
        let statements = parse_all("DROP RULE IF EXISTS r; drop rule if exists \"If\"");
        assert_eq!(
            statements,
            [
                Statement::DropRule {
                    name: "r".into(),
                    if_exists: true
                },
                Statement::DropRule {
                    name: "If".into(),
                    if_exists: true
                }
            ]
        );
        let e = syntax("DROP RULE IF EXISTS");
        assert!(e.message.contains("DROP RULE [IF EXISTS] name"), "{e:?}");
        let e = syntax("DROP RULE IF EXISTS r s");
        assert!(e.message.contains("unexpected s"), "{e:?}");
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
        assert!(e.message.contains("DROP RULE [IF EXISTS] name"), "{e:?}");
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
}
