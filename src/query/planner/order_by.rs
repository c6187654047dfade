//! The select list as later clauses see it: `ORDER BY 2` and aliases.
//!
//! `ORDER BY n` names the n-th output column, and an alias of the select
//! list (`COUNT(*) AS n ... ORDER BY n DESC`) names its expression. This
//! file owns both rules, for aggregate and raw-row queries alike: the
//! lowered outputs and the aliases, gathered as the select list is lowered,
//! and the ORDER BY built from them. What a column means is left to the
//! caller, which lowers every other expression.

use crate::error::{query_err, Result};
use crate::query::ast::{Expr, Literal, OrderBy};
use crate::query::scalar::Scalar;

/// ORDER BY, planned.
pub(super) struct Ordering {
    /// The sort keys, each with whether it is descending.
    pub keys: Vec<(Scalar, bool)>,
    /// The clause as written, for EXPLAIN.
    pub text: Vec<String>,
}

/// The lowered select list and its aliases, in select-list order.
#[derive(Default)]
pub(super) struct SelectList<'s> {
    outputs: Vec<Scalar>,
    /// Each alias and the expression it names, as written.
    aliases: Vec<(&'s str, &'s Expr)>,
}

impl<'s> SelectList<'s> {
    /// Adds the next output column, and the alias it is given with the
    /// expression the alias names.
    pub fn push(&mut self, output: Scalar, alias: Option<(&'s str, &'s Expr)>) {
        self.outputs.push(output);
        self.aliases.extend(alias);
    }

    /// The expression alias `name` names. When two items share an alias,
    /// the later one counts, as a later definition does.
    pub fn alias(&self, name: &str) -> Option<&'s Expr> {
        self.aliases
            .iter()
            .rev()
            .find(|(a, _)| *a == name)
            .map(|(_, e)| *e)
    }

    /// ORDER BY: an integer literal is an output column by its 1-based
    /// position, anything else is lowered by `lower`.
    pub fn order_by(
        &self,
        order_by: &[OrderBy],
        lower: &mut dyn FnMut(&Expr) -> Result<Scalar>,
    ) -> Result<Ordering> {
        let mut keys = Vec::with_capacity(order_by.len());
        let mut text = Vec::with_capacity(order_by.len());
        for OrderBy { expr, desc } in order_by {
            let lowered = match expr {
                Expr::Literal(Literal::Int(n)) => self.ordinal(*n)?,
                _ => lower(expr)?,
            };
            keys.push((lowered, *desc));
            text.push(format!("{expr} {}", if *desc { "DESC" } else { "ASC" }));
        }
        Ok(Ordering { keys, text })
    }

    /// Output column `n`, counted from 1.
    fn ordinal(&self, n: i64) -> Result<Scalar> {
        usize::try_from(n)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.outputs.get(i).cloned())
            .ok_or_else(|| {
                query_err!(
                    "ORDER BY {n}: there are {} output columns",
                    self.outputs.len()
                )
            })
    }

    /// The lowered outputs, in select-list order.
    pub fn into_outputs(self) -> Vec<Scalar> {
        self.outputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str) -> Expr {
        Expr::Column(name.into())
    }

    #[test]
    fn ordinals_count_from_one_and_the_later_alias_wins() {
        let (a, b) = (col("a"), col("b"));
        let mut list = SelectList::default();
        list.push(Scalar::Dim(0), Some(("x", &a)));
        list.push(Scalar::Dim(1), Some(("x", &b)));
        list.push(Scalar::Dim(2), None);
        assert_eq!(list.alias("x"), Some(&b));
        assert_eq!(list.alias("a"), None);
        let order = [
            OrderBy {
                expr: Expr::Literal(Literal::Int(2)),
                desc: true,
            },
            OrderBy {
                expr: col("c"),
                desc: false,
            },
        ];
        let ordering = list
            .order_by(&order, &mut |_| Ok(Scalar::Key))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ordering.keys,
            [(Scalar::Dim(1), true), (Scalar::Key, false)]
        );
        assert_eq!(ordering.text, ["2 DESC", "c ASC"]);
        for n in [0, 4, -1] {
            let order = [OrderBy {
                expr: Expr::Literal(Literal::Int(n)),
                desc: false,
            }];
            let e = list.order_by(&order, &mut |_| Ok(Scalar::Key));
            assert_eq!(
                e.err().map(|e| e.to_string()),
                Some(format!("ORDER BY {n}: there are 3 output columns"))
            );
        }
    }
}
