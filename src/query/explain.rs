//! EXPLAIN: every plan as a readable tree, from the answer down to the state.
//!
//! This file owns how plans print: the lines each kind of plan shows, and
//! the one tree writer ([`write_tree`]) that draws them, so that aggregate
//! and raw-row plans look alike. It reads plans and never changes them;
//! what the lines say is decided by the planner (labels, names as written).
//! Golden tests pin the exact text.

use std::fmt;

use super::plan::{Plan, RawPlan, RawSource, Route};
use crate::time::format_duration;

/// Writes `lines` as a chain: the first at the root, each next one the
/// child of the line before it, indented one step further.
///
/// ```text
/// Project n
/// └─ Limit 3
///    └─ Scan ...
/// ```
fn write_tree(f: &mut fmt::Formatter<'_>, lines: &[String]) -> fmt::Result {
    for (depth, line) in lines.iter().enumerate() {
        if depth == 0 {
            writeln!(f, "{line}")?;
        } else {
            writeln!(f, "{}└─ {line}", "   ".repeat(depth - 1))?;
        }
    }
    Ok(())
}

/// An aggregate plan: the finish's stages, the merge, the aggregates and
/// the scan of rolling state.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finish = &self.finish;
        let mut lines = vec![format!("Project {}", finish.columns.join(", "))];
        if let Some(limit) = finish.limit {
            lines.push(format!("Limit {limit}"));
        }
        if !finish.cumulative.is_empty() {
            let names: Vec<&str> = finish
                .cumulative
                .iter()
                .filter_map(|&c| finish.columns.get(c).map(String::as_str))
                .collect();
            lines.push(format!(
                "Running total {} (in result order)",
                names.join(", ")
            ));
        }
        if !self.order_by.is_empty() {
            lines.push(format!("Sort {}", self.order_by.join(", ")));
        }
        if finish.having.is_some() {
            lines.push("Filter HAVING".to_string());
        }
        lines.push(self.merge_line());
        lines.push(self.aggregate_line());
        lines.push(self.scan_line());
        write_tree(f, &lines)
    }
}

impl Plan {
    /// How partials come back from the shards.
    fn merge_line(&self) -> String {
        match (&self.scan.route, self.scan.finish_at_shard.is_some()) {
            (Route::Point { keys, .. }, _) => format!("Merge {} point partial(s)", keys.len()),
            (_, true) => format!(
                "Merge finished rows from {} shards (each shard filters, sorts and limits its \
                 own groups)",
                self.shards
            ),
            (_, false) => format!("Merge partial aggregates from {} shards", self.shards),
        }
    }

    /// The aggregates and the groups they are kept for.
    fn aggregate_line(&self) -> String {
        let scan = &self.scan;
        let mut group = if self.group_by.is_empty() {
            "one group".to_string()
        } else {
            format!("group by {}", self.group_by.join(", "))
        };
        if let Some(b) = &scan.buckets {
            group += &format!(
                "; {} bucket(s) of {}{}",
                b.count,
                format_duration(b.width_ms),
                if b.fill_empty {
                    ", empty ones shown"
                } else {
                    ""
                }
            );
        }
        let aggs: Vec<&str> = scan.aggs.iter().map(|a| a.label.as_str()).collect();
        let aggs = if aggs.is_empty() {
            "nothing".to_string()
        } else {
            aggs.join(", ")
        };
        format!("Aggregate {aggs} ({group})")
    }

    /// Which state is read, over which window.
    fn scan_line(&self) -> String {
        let scan = &self.scan;
        let kind = |k: &usize| self.kind_names.get(*k).cloned().unwrap_or_default();
        let route = match &scan.route {
            Route::Global => {
                "global state (each shard's partial; no entity is touched)".to_string()
            }
            Route::Point { kind: k, keys } => {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                format!(
                    "point: {} actor(s) {} (one message per key's shard)",
                    kind(k),
                    keys.join(", ")
                )
            }
            Route::FanOut { kind: k } => {
                let floor = scan
                    .finish_at_shard
                    .as_ref()
                    .map_or(0, |f| f.min_events(scan));
                let skipped = match floor {
                    0 | 1 => String::new(),
                    n => format!(" holding {n} or more events (fewer cannot pass HAVING)"),
                };
                format!(
                    "fan-out: every {} actor{skipped} on {} shards",
                    kind(k),
                    self.shards
                )
            }
        };
        let panes = if scan.window.pane_secs() == 1 {
            "1 s panes"
        } else {
            "1 min panes"
        };
        let filter = self
            .filter
            .as_ref()
            .map(|w| format!(", where {w}"))
            .unwrap_or_default();
        format!(
            "Scan {route}, window {} ({panes}){filter}",
            format_duration(scan.window.length_ms)
        )
    }
}

/// A raw-row plan: projection, order, filter and the rows it reads.
impl fmt::Display for RawPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = vec![format!("Project {}", self.columns.join(", "))];
        if let Some(limit) = self.limit {
            lines.push(format!("Limit {limit}"));
        }
        if self.order_text.is_empty() {
            lines.push("Keep arrival order".to_string());
        } else {
            lines.push(format!(
                "Sort {} (ties in arrival order)",
                self.order_text.join(", ")
            ));
        }
        if let Some(w) = &self.filter_text {
            lines.push(format!("Filter {w}"));
        }
        lines.push(match (self.source, &self.window) {
            (RawSource::Events, Some(w)) if self.events_store => format!(
                "Scan raw events: the events store (every accepted event within retention, \
                 blocks by time), window {}",
                format_duration(w.length_ms)
            ),
            (RawSource::Events, Some(w)) => format!(
                "Scan raw events: the ring of the last {} accepted events, window {}",
                self.capacity,
                format_duration(w.length_ms)
            ),
            _ => format!(
                "Scan rule hits (the engine's last {}, in delivery order)",
                self.capacity
            ),
        });
        write_tree(f, &lines)
    }
}
