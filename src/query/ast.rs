//! tally's own statement tree: what the parser lowers sqlparser's AST into.
//!
//! It is deliberately small: only what tally can answer. sqlparser's types
//! never leave `query/parser/`; the planner and everything after it see these.

use std::fmt;

/// How deeply one expression may nest: each operator, `NOT`, parenthesis,
/// function or aggregate call is a level. The parser refuses anything
/// deeper, so every later walk over an expression (planning, evaluation,
/// rules, `.watch`) recurses at most this far and cannot overflow a stack.
pub const MAX_EXPRESSION_DEPTH: usize = 128;

/// One statement of the query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT ... FROM events ... [WINDOW d]`
    Select(Select),
    /// `EXPLAIN SELECT ...`: print the plan instead of running it.
    Explain(Select),
    /// `SHOW STATS`: ingest and engine counters, one row per counter.
    ShowStats,
    /// `CREATE RULE name AS SELECT ...`: a continuous rule, checked by the
    /// actors on every event (see [`crate::rules`]).
    CreateRule(RuleDef),
    /// `DROP RULE [IF EXISTS] name`. `if_exists` makes dropping a rule
    /// that is not there a no-op, so a saved file of rule statements can
    /// be run again.
    DropRule { name: String, if_exists: bool },
    /// `SHOW RULES`: every rule, with its hit count.
    ShowRules,
}

/// A continuous rule as written: `CREATE RULE name AS <select>`. The select
/// must group by one actor key and have HAVING (the condition) and WINDOW;
/// the rules module checks that against the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    /// Unquoted names are folded to lower case, as SQL identifiers are.
    pub name: String,
    pub select: Select,
    /// The HAVING clause as written (parameters bound), for `SHOW RULES`;
    /// empty when there is none.
    pub condition: String,
}

/// A `SELECT` over the event stream (or the log of rule hits).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    /// `SELECT TOP k col`: the k values of `col` with the largest `COUNT(*)`,
    /// ties broken by `col` ascending. Output columns are `col` and `count`.
    pub top: Option<u64>,
    pub items: Vec<SelectItem>,
    /// The `FROM` relation, lowercased: `events` or `rule_hits`, checked by
    /// the planner so that anything else gets a helpful message.
    pub from: String,
    /// `WHERE`.
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<u64>,
    /// The trailing `WINDOW d`, in milliseconds. `None` means the whole
    /// retention horizon.
    pub window_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
    Expr {
        expr: Expr,
        alias: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expr,
    pub desc: bool,
}

/// A scalar or aggregate expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column by its dotted path: `user_id`, `metadata.view_duration_ms`.
    /// An alias from the select list is also a `Column` until the planner
    /// resolves it.
    Column(String),
    Literal(Literal),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `expr [NOT] IN (list)`
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `expr IS [NOT] NULL`
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// An aggregate call: `COUNT(*)`, `SUM(x) FILTER (WHERE ...)`.
    Aggregate {
        func: AggFunc,
        /// `None` for `COUNT(*)`.
        arg: Option<Box<Expr>>,
        /// `COUNT(DISTINCT x)`.
        distinct: bool,
        /// `FILTER (WHERE ...)`.
        filter: Option<Box<Expr>>,
    },
    /// A scalar function call such as `ROUND(x, 2)`, `ABS(x)`.
    Function {
        name: String,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Always floating-point division, as in DuckDB: `1 / 2 = 0.5`.
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// `MEDIAN(x)`: `PERCENTILE(x, 50)`, kept apart for its column name.
    Median,
    /// `PERCENTILE(x, p)`, from a percentile sketch.
    Percentile(Percent),
    /// `APPROX_COUNT_DISTINCT(x)`: the same as `COUNT(DISTINCT x)`.
    ApproxCountDistinct,
}

/// The p of `PERCENTILE(x, p)`: a number in 0..=100, checked by the parser
/// (so never NaN, which makes `Eq` sound).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl Eq for Percent {}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::Median => "median",
            AggFunc::Percentile(_) => "percentile",
            AggFunc::ApproxCountDistinct => "approx_count_distinct",
        })
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        })
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

/// Renders the expression back as SQL. Used for default column names
/// (`count(*)`, `sum(price)`) and in `EXPLAIN`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(name) => f.write_str(name),
            Expr::Literal(l) => write!(f, "{l}"),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => write!(f, "-{expr}"),
            Expr::Unary {
                op: UnaryOp::Not,
                expr,
            } => write!(f, "NOT {expr}"),
            Expr::Binary { op, left, right } => write!(f, "({left} {op} {right})"),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(|e| e.to_string()).collect();
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{expr} {not}IN ({})", items.join(", "))
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{expr} {not}BETWEEN {low} AND {high}")
            }
            Expr::IsNull { expr, negated } => {
                write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" })
            }
            Expr::Aggregate {
                func,
                arg,
                distinct,
                filter,
            } => {
                let distinct = if *distinct { "DISTINCT " } else { "" };
                match (arg, func) {
                    (Some(arg), AggFunc::Percentile(p)) => write!(f, "{func}({arg}, {p})")?,
                    (Some(arg), _) => write!(f, "{func}({distinct}{arg})")?,
                    (None, _) => write!(f, "{func}(*)")?,
                }
                if let Some(filter) = filter {
                    write!(f, " FILTER (WHERE {filter})")?;
                }
                Ok(())
            }
            Expr::Function { name, args } => {
                let args: Vec<String> = args.iter().map(|e| e.to_string()).collect();
                write!(f, "{name}({})", args.join(", "))
            }
        }
    }
}
