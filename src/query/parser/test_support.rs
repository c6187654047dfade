//! Helpers for the parser's unit tests: parse or fail, and build the
//! expected trees in few words. Test code only.

use super::{parse, Params};
use crate::error::{Error, SyntaxError};
use crate::query::ast::{AggFunc, BinaryOp, Expr, Literal, Select, SelectItem, Statement};

pub(super) fn parse_all(sql: &str) -> Vec<Statement> {
    match parse(sql, &Params::new()) {
        Ok(statements) => statements,
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// The one SELECT of `sql`.
pub(super) fn select(sql: &str) -> Select {
    match parse_all(sql).as_slice() {
        [Statement::Select(s)] => s.clone(),
        other => panic!("{sql}: expected one SELECT, got {other:?}"),
    }
}

pub(super) fn query_error(sql: &str) -> String {
    match parse(sql, &Params::new()) {
        Err(Error::Query(message)) => message,
        other => panic!("{sql}: expected a query error, got {other:?}"),
    }
}

pub(super) fn syntax(sql: &str) -> SyntaxError {
    match parse(sql, &Params::new()) {
        Err(Error::Syntax(e)) => e,
        other => panic!("{sql}: expected a syntax error, got {other:?}"),
    }
}

pub(super) fn col(name: &str) -> Expr {
    Expr::Column(name.into())
}

pub(super) fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Int(i))
}

pub(super) fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

pub(super) fn agg(func: AggFunc, arg: Option<Expr>) -> Expr {
    Expr::Aggregate {
        func,
        arg: arg.map(Box::new),
        distinct: false,
        filter: None,
    }
}

pub(super) fn count_star() -> Expr {
    agg(AggFunc::Count, None)
}

pub(super) fn item(expr: Expr) -> SelectItem {
    SelectItem::Expr { expr, alias: None }
}

pub(super) fn aliased(expr: Expr, alias: &str) -> SelectItem {
    SelectItem::Expr {
        expr,
        alias: Some(alias.into()),
    }
}

pub(super) const HOUR: i64 = 3_600_000;
