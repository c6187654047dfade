//! Scalar expressions, bound to positions, and their evaluation.
//!
//! The planner lowers every [`super::Expr`] it keeps into a [`Scalar`] whose
//! columns are positions in a [`Row`]: the entity key, dimension values, and
//! finished aggregates. The same evaluator serves three places: WHERE on a
//! cell's dimensions (at plan time, once per cell), WHERE on an entity key
//! (once per entity), and SELECT / HAVING / ORDER BY on finished groups.

use std::fmt;

use super::ast::{BinaryOp, UnaryOp};
use crate::value::Value;

/// The values a [`Scalar`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub key: Option<&'a Value>,
    pub dims: &'a [Value],
    pub aggs: &'a [Value],
}

/// Scalar functions usable on group columns and aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Round,
    Abs,
    Floor,
    Ceil,
    Coalesce,
}

impl Function {
    pub const NAMES: [&'static str; 5] = ["round", "abs", "floor", "ceil", "coalesce"];

    pub fn by_name(name: &str) -> Option<Function> {
        Some(match name {
            "round" => Function::Round,
            "abs" => Function::Abs,
            "floor" => Function::Floor,
            "ceil" | "ceiling" => Function::Ceil,
            "coalesce" => Function::Coalesce,
            _ => return None,
        })
    }

    /// Allowed argument counts.
    pub fn arity(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Function::Round => 1..=2,
            Function::Coalesce => 1..=usize::MAX,
            _ => 1..=1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// The entity key of the group or entity.
    Key,
    /// A dimension value, by position in [`Row::dims`].
    Dim(usize),
    /// A finished aggregate, by position in [`Row::aggs`].
    Agg(usize),
    Literal(Value),
    Unary(UnaryOp, Box<Scalar>),
    Binary(BinaryOp, Box<Scalar>, Box<Scalar>),
    InList(Box<Scalar>, Vec<Scalar>, bool),
    Between(Box<Scalar>, Box<Scalar>, Box<Scalar>, bool),
    IsNull(Box<Scalar>, bool),
    Call(Function, Vec<Scalar>),
}

impl Scalar {
    pub fn eval(&self, row: &Row) -> Value {
        match self {
            Scalar::Key => row.key.cloned().unwrap_or(Value::Null),
            Scalar::Dim(i) => row.dims.get(*i).cloned().unwrap_or(Value::Null),
            Scalar::Agg(i) => row.aggs.get(*i).cloned().unwrap_or(Value::Null),
            Scalar::Literal(v) => v.clone(),
            Scalar::Unary(op, e) => unary(*op, e.eval(row)),
            Scalar::Binary(BinaryOp::And, l, r) => and(l.eval(row), || r.eval(row)),
            Scalar::Binary(BinaryOp::Or, l, r) => or(l.eval(row), || r.eval(row)),
            Scalar::Binary(op, l, r) => binary(*op, &l.eval(row), &r.eval(row)),
            Scalar::InList(e, list, negated) => {
                let v = e.eval(row);
                if v.is_null() {
                    return Value::Null;
                }
                let found = list
                    .iter()
                    .any(|item| v.sql_cmp(&item.eval(row)) == Some(std::cmp::Ordering::Equal));
                Value::Bool(found != *negated)
            }
            Scalar::Between(e, lo, hi, negated) => {
                let v = e.eval(row);
                let ge = binary(BinaryOp::GtEq, &v, &lo.eval(row));
                let le = binary(BinaryOp::LtEq, &v, &hi.eval(row));
                let inside = and(ge, || le);
                if *negated {
                    unary(UnaryOp::Not, inside)
                } else {
                    inside
                }
            }
            Scalar::IsNull(e, negated) => Value::Bool(e.eval(row).is_null() != *negated),
            Scalar::Call(f, args) => call(*f, args.iter().map(|a| a.eval(row)).collect()),
        }
    }
}

fn unary(op: UnaryOp, v: Value) -> Value {
    match (op, v) {
        (_, Value::Null) => Value::Null,
        (UnaryOp::Neg, Value::Int(i)) => i
            .checked_neg()
            .map_or(Value::Float(-(i as f64)), Value::Int),
        (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
        (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
        _ => Value::Null,
    }
}

/// Three-valued AND: FALSE wins over NULL.
fn and(l: Value, r: impl FnOnce() -> Value) -> Value {
    if l == Value::Bool(false) {
        return l;
    }
    match (l, r()) {
        (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// Three-valued OR: TRUE wins over NULL.
fn or(l: Value, r: impl FnOnce() -> Value) -> Value {
    if l == Value::Bool(true) {
        return l;
    }
    match (l, r()) {
        (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Arithmetic and comparison. `/` is always floating-point (DuckDB); division
/// or modulo by zero is NULL; integer overflow falls back to float.
pub fn binary(op: BinaryOp, l: &Value, r: &Value) -> Value {
    use std::cmp::Ordering::*;
    use BinaryOp::*;
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    let cmp = |want: &dyn Fn(std::cmp::Ordering) -> bool| {
        l.sql_cmp(r).map_or(Value::Null, |o| Value::Bool(want(o)))
    };
    match op {
        Eq => cmp(&|o| o == Equal),
        NotEq => cmp(&|o| o != Equal),
        Lt => cmp(&|o| o == Less),
        LtEq => cmp(&|o| o != Greater),
        Gt => cmp(&|o| o == Greater),
        GtEq => cmp(&|o| o != Less),
        And | Or => and(l.clone(), || r.clone()),
        Div => match (l.as_f64(), r.as_f64()) {
            (Some(_), Some(0.0)) => Value::Null,
            (Some(x), Some(y)) => Value::Float(x / y),
            _ => Value::Null,
        },
        Add | Sub | Mul | Mod => match (l, r) {
            (Value::Int(a), Value::Int(b)) => {
                let exact = match op {
                    Add => a.checked_add(*b),
                    Sub => a.checked_sub(*b),
                    Mul => a.checked_mul(*b),
                    _ if *b == 0 => return Value::Null,
                    _ => a.checked_rem(*b),
                };
                exact.map_or_else(|| float_op(op, *a as f64, *b as f64), Value::Int)
            }
            _ => match (l.as_f64(), r.as_f64()) {
                (Some(x), Some(y)) => float_op(op, x, y),
                _ => Value::Null,
            },
        },
    }
}

fn float_op(op: BinaryOp, x: f64, y: f64) -> Value {
    Value::Float(match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Mod if y == 0.0 => return Value::Null,
        BinaryOp::Mod => x % y,
        _ => return Value::Null,
    })
}

fn call(f: Function, args: Vec<Value>) -> Value {
    let num = |i: usize| args.get(i).and_then(Value::as_f64);
    match f {
        Function::Coalesce => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Function::Abs => match args.first() {
            Some(Value::Int(i)) => i.checked_abs().map_or(Value::Null, Value::Int),
            _ => num(0).map_or(Value::Null, |x| Value::Float(x.abs())),
        },
        Function::Round => {
            let Some(x) = num(0) else { return Value::Null };
            let digits = num(1).unwrap_or(0.0).clamp(-15.0, 15.0) as i32;
            let scale = 10f64.powi(digits);
            match args.first() {
                Some(Value::Int(i)) if digits >= 0 => Value::Int(*i),
                _ => Value::Float((x * scale).round() / scale),
            }
        }
        Function::Floor | Function::Ceil => match args.first() {
            Some(Value::Int(i)) => Value::Int(*i),
            _ => num(0).map_or(Value::Null, |x| {
                Value::Float(if f == Function::Floor {
                    x.floor()
                } else {
                    x.ceil()
                })
            }),
        },
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Function::Round => "round",
            Function::Abs => "abs",
            Function::Floor => "floor",
            Function::Ceil => "ceil",
            Function::Coalesce => "coalesce",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_is_floating_point_and_null_on_zero() {
        assert_eq!(
            binary(BinaryOp::Div, &Value::Int(1), &Value::Int(2)),
            Value::Float(0.5)
        );
        assert_eq!(
            binary(BinaryOp::Div, &Value::Int(1), &Value::Int(0)),
            Value::Null
        );
        assert_eq!(
            binary(BinaryOp::Add, &Value::Int(i64::MAX), &Value::Int(1)),
            Value::Float(i64::MAX as f64 + 1.0)
        );
    }

    #[test]
    fn three_valued_logic() {
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        assert_eq!(and(Value::Null, || f.clone()), f);
        assert_eq!(and(Value::Null, || t.clone()), Value::Null);
        assert_eq!(or(Value::Null, || t.clone()), t);
    }
}
