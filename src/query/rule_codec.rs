//! A rule's definition as bytes, for the log and checkpoints: a compact
//! encoding of the parsed [`RuleDef`], not its text.
//!
//! The text would need the `:name` parameters it was parsed with, and its
//! parse could change with the parser; the tree is what the rule *is*. The
//! encoding is ours, not serde's: a damaged or hostile record must not
//! nest deeper than the parser allows ([`MAX_EXPRESSION_DEPTH`]), which
//! the decoder checks as it goes, so no input can exhaust the stack. Every
//! count and length is checked against what is left; a failure is an
//! `Err` saying what is wrong, never a panic.
//!
//! Layout: a version byte, then the name, the condition text and the
//! select, field by field; integers little-endian, strings and lists
//! length-prefixed (u32), optional parts behind a 0/1 byte, expressions
//! as a tag byte and their parts.

use super::ast::{
    AggFunc, BinaryOp, Expr, Literal, OrderBy, Percent, RuleDef, Select, SelectItem, UnaryOp,
    MAX_EXPRESSION_DEPTH,
};

/// The layout's version, the first byte; another is refused.
const VERSION: u8 = 1;

const BINARY_OPS: [BinaryOp; 13] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Eq,
    BinaryOp::NotEq,
    BinaryOp::Lt,
    BinaryOp::LtEq,
    BinaryOp::Gt,
    BinaryOp::GtEq,
    BinaryOp::And,
    BinaryOp::Or,
];

/// Encodes a rule's definition.
pub fn encode_rule(def: &RuleDef) -> Vec<u8> {
    let mut w = Writer(vec![VERSION]);
    w.str(&def.name);
    w.str(&def.condition);
    let s = &def.select;
    w.opt(s.top.as_ref(), |w, k| w.u64(*k));
    w.u32(s.items.len() as u32);
    for item in &s.items {
        match item {
            SelectItem::Wildcard => w.u8(0),
            SelectItem::Expr { expr, alias } => {
                w.u8(1);
                w.expr(expr);
                w.opt(alias.as_ref(), |w, a| w.str(a));
            }
        }
    }
    w.str(&s.from);
    w.opt(s.filter.as_ref(), Writer::expr);
    w.exprs(&s.group_by);
    w.opt(s.having.as_ref(), Writer::expr);
    w.u32(s.order_by.len() as u32);
    for o in &s.order_by {
        w.expr(&o.expr);
        w.bool(o.desc);
    }
    w.opt(s.limit.as_ref(), |w, n| w.u64(*n));
    w.opt(s.window_ms.as_ref(), |w, ms| w.u64(*ms as u64));
    w.0
}

/// Decodes what [`encode_rule`] wrote.
pub fn decode_rule(bytes: &[u8]) -> Result<RuleDef, String> {
    let mut r = Reader { bytes };
    let version = r.u8()?;
    if version != VERSION {
        return Err(format!("a rule definition of version {version}"));
    }
    let name = r.str()?;
    let condition = r.str()?;
    let top = r.opt(Reader::u64)?;
    let mut items = Vec::new();
    for _ in 0..r.count()? {
        items.push(match r.u8()? {
            0 => SelectItem::Wildcard,
            1 => SelectItem::Expr {
                expr: r.expr(0)?,
                alias: r.opt(Reader::str)?,
            },
            t => return Err(format!("an unknown select item tag {t}")),
        });
    }
    let from = r.str()?;
    let filter = r.opt(|r| r.expr(0))?;
    let group_by = r.exprs(0)?;
    let having = r.opt(|r| r.expr(0))?;
    let mut order_by = Vec::new();
    for _ in 0..r.count()? {
        order_by.push(OrderBy {
            expr: r.expr(0)?,
            desc: r.bool()?,
        });
    }
    let limit = r.opt(Reader::u64)?;
    let window_ms = r.opt(|r| r.u64().map(|ms| ms as i64))?;
    if !r.bytes.is_empty() {
        return Err(format!("{} bytes after a rule definition", r.bytes.len()));
    }
    Ok(RuleDef {
        name,
        condition,
        select: Select {
            top,
            items,
            from,
            filter,
            group_by,
            having,
            order_by,
            limit,
            window_ms,
        },
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bool(&mut self, b: bool) {
        self.u8(b as u8);
    }

    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt<T>(&mut self, value: Option<&T>, put: impl FnOnce(&mut Writer, &T)) {
        match value {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                put(self, v);
            }
        }
    }

    fn exprs(&mut self, list: &[Expr]) {
        self.u32(list.len() as u32);
        for e in list {
            self.expr(e);
        }
    }

    fn boxed(&mut self, e: &Option<Box<Expr>>) {
        self.opt(e.as_deref(), Writer::expr);
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Column(name) => {
                self.u8(0);
                self.str(name);
            }
            Expr::Literal(l) => {
                self.u8(1);
                self.literal(l);
            }
            Expr::Unary { op, expr } => {
                self.u8(2);
                self.u8(matches!(op, UnaryOp::Not) as u8);
                self.expr(expr);
            }
            Expr::Binary { op, left, right } => {
                self.u8(3);
                self.u8(BINARY_OPS.iter().position(|o| o == op).unwrap_or(0) as u8);
                self.expr(left);
                self.expr(right);
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                self.u8(4);
                self.expr(expr);
                self.exprs(list);
                self.bool(*negated);
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                self.u8(5);
                self.expr(expr);
                self.expr(low);
                self.expr(high);
                self.bool(*negated);
            }
            Expr::IsNull { expr, negated } => {
                self.u8(6);
                self.expr(expr);
                self.bool(*negated);
            }
            Expr::Aggregate {
                func,
                arg,
                distinct,
                filter,
            } => {
                self.u8(7);
                match func {
                    AggFunc::Count => self.u8(0),
                    AggFunc::Sum => self.u8(1),
                    AggFunc::Min => self.u8(2),
                    AggFunc::Max => self.u8(3),
                    AggFunc::Avg => self.u8(4),
                    AggFunc::Median => self.u8(5),
                    AggFunc::Percentile(p) => {
                        self.u8(6);
                        self.u64(p.0.to_bits());
                    }
                    AggFunc::ApproxCountDistinct => self.u8(7),
                }
                self.boxed(arg);
                self.bool(*distinct);
                self.boxed(filter);
            }
            Expr::Function { name, args } => {
                self.u8(8);
                self.str(name);
                self.exprs(args);
            }
        }
    }

    fn literal(&mut self, l: &Literal) {
        match l {
            Literal::Null => self.u8(0),
            Literal::Bool(b) => {
                self.u8(1);
                self.bool(*b);
            }
            Literal::Int(i) => {
                self.u8(2);
                self.u64(*i as u64);
            }
            Literal::Float(x) => {
                self.u8(3);
                self.u64(x.to_bits());
            }
            Literal::Str(s) => {
                self.u8(4);
                self.str(s);
            }
        }
    }
}

/// A cursor that refuses to read past the end or nest too deep.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.bytes.len() < n {
            return Err("a rule definition cut short".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("a boolean byte {b}")),
        }
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// A list's length: each element takes at least a byte, so a count
    /// past what is left is damage, found before any loop runs.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.bytes.len() {
            return Err(format!("a list of {n} in {} bytes", self.bytes.len()));
        }
        Ok(n)
    }

    fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string that is not UTF-8".into())
    }

    fn opt<T>(
        &mut self,
        get: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        if self.bool()? {
            get(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn exprs(&mut self, depth: usize) -> Result<Vec<Expr>, String> {
        let mut list = Vec::new();
        for _ in 0..self.count()? {
            list.push(self.expr(depth)?);
        }
        Ok(list)
    }

    fn boxed(&mut self, depth: usize) -> Result<Option<Box<Expr>>, String> {
        self.opt(|r| r.expr(depth).map(Box::new))
    }

    /// An expression `depth` levels down; past [`MAX_EXPRESSION_DEPTH`]
    /// is refused, as the parser refuses it.
    fn expr(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(format!(
                "an expression nested deeper than {MAX_EXPRESSION_DEPTH}"
            ));
        }
        let d = depth + 1;
        let boxed = |r: &mut Self| r.expr(d).map(Box::new);
        Ok(match self.u8()? {
            0 => Expr::Column(self.str()?),
            1 => Expr::Literal(self.literal()?),
            2 => Expr::Unary {
                op: if self.bool()? {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                },
                expr: boxed(self)?,
            },
            3 => {
                let op = *BINARY_OPS
                    .get(self.u8()? as usize)
                    .ok_or("an unknown operator")?;
                Expr::Binary {
                    op,
                    left: boxed(self)?,
                    right: boxed(self)?,
                }
            }
            4 => Expr::InList {
                expr: boxed(self)?,
                list: self.exprs(d)?,
                negated: self.bool()?,
            },
            5 => Expr::Between {
                expr: boxed(self)?,
                low: boxed(self)?,
                high: boxed(self)?,
                negated: self.bool()?,
            },
            6 => Expr::IsNull {
                expr: boxed(self)?,
                negated: self.bool()?,
            },
            7 => {
                let func = match self.u8()? {
                    0 => AggFunc::Count,
                    1 => AggFunc::Sum,
                    2 => AggFunc::Min,
                    3 => AggFunc::Max,
                    4 => AggFunc::Avg,
                    5 => AggFunc::Median,
                    6 => {
                        let p = f64::from_bits(self.u64()?);
                        if !(0.0..=100.0).contains(&p) {
                            return Err(format!("a percentile of {p}"));
                        }
                        AggFunc::Percentile(Percent(p))
                    }
                    7 => AggFunc::ApproxCountDistinct,
                    t => return Err(format!("an unknown aggregate {t}")),
                };
                Expr::Aggregate {
                    func,
                    arg: self.boxed(d)?,
                    distinct: self.bool()?,
                    filter: self.boxed(d)?,
                }
            }
            8 => Expr::Function {
                name: self.str()?,
                args: self.exprs(d)?,
            },
            t => return Err(format!("an unknown expression tag {t}")),
        })
    }

    fn literal(&mut self) -> Result<Literal, String> {
        Ok(match self.u8()? {
            0 => Literal::Null,
            1 => Literal::Bool(self.bool()?),
            2 => Literal::Int(self.u64()? as i64),
            3 => Literal::Float(f64::from_bits(self.u64()?)),
            4 => Literal::Str(self.str()?),
            t => return Err(format!("an unknown literal tag {t}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{parse, Params, Statement};

    fn rule(sql: &str) -> RuleDef {
        match parse(sql, &Params::new()).unwrap().pop() {
            Some(Statement::CreateRule(def)) => def,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn definitions_read_back_as_written() {
        for sql in [
            "CREATE RULE r AS SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id \
             HAVING n > 20 WINDOW 60s",
            "CREATE RULE \"Mixed\" AS SELECT video_id, SUM(metadata.view_duration_ms) AS s, \
             COUNT(*) FILTER (WHERE event_type = 'it''s') AS c, AVG(-x) AS a, \
             PERCENTILE(x, 99.5) AS p, ROUND(MAX(x), 2) AS m FROM events \
             WHERE event_type NOT IN ('like', 'share') AND x BETWEEN 1 AND 2.5 \
             AND y IS NOT NULL AND NOT (z <> TRUE OR w = NULL) \
             GROUP BY video_id HAVING s / 2 % 3 >= 1e300 ORDER BY s DESC LIMIT 3 WINDOW 2h",
            "CREATE RULE t AS SELECT TOP 3 user_id FROM events WINDOW 1m",
            "CREATE RULE w AS SELECT * FROM events GROUP BY user_id HAVING COUNT(DISTINCT v) < -5 WINDOW 1d",
        ] {
            let def = rule(sql);
            let bytes = encode_rule(&def);
            assert_eq!(decode_rule(&bytes), Ok(def), "{sql}");
            // Every cut is refused, never a panic.
            for cut in 0..bytes.len() {
                assert!(decode_rule(&bytes[..cut]).is_err(), "{sql} cut at {cut}");
            }
        }
    }

    #[test]
    fn hostile_bytes_are_refused() {
        assert!(decode_rule(&[]).is_err());
        assert!(decode_rule(&[2]).is_err(), "another version");
        // A name, a condition, no TOP, then a billion select items.
        let mut bytes = vec![VERSION, 1, 0, 0, 0, b'r', 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_rule(&bytes).unwrap_err().contains("a list of"));
        // One item: NOT NOT NOT ... far past the depth the parser allows.
        let mut deep = vec![VERSION, 1, 0, 0, 0, b'r', 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        for _ in 0..1_000_000 {
            deep.extend_from_slice(&[2, 1]);
        }
        assert!(decode_rule(&deep).unwrap_err().contains("nested deeper"));
    }
}
