//! The shard's side of rules: evaluating a kind's rules on one entity after
//! it takes an event, and turning rising edges into hits.

use std::collections::HashSet;
use std::sync::Arc;

use super::hit::Hit;
use super::saved::SavedFiring;
use crate::event::{CellId, Key};
use crate::query::{Finish, Scan};
use crate::time::Millis;
use crate::value::Value;
use crate::window::{MetricAgg, PaneStore, WindowSpec};

/// One rule, planned against the current cells, ready for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Unique for the engine's life: a dropped and re-created rule of the
    /// same name is a new rule, with fresh edge state.
    pub id: u64,
    pub name: Arc<str>,
    /// The actor kind whose entities evaluate it.
    pub kind: usize,
    pub kind_name: Arc<str>,
    pub length_ms: Millis,
    /// Pane size in seconds (1 or 60) and the window's length in panes.
    pub pane_secs: i64,
    pub panes: i64,
    /// The planned grouped select: `scan` accumulates one entity's group
    /// over a window, `finish` applies HAVING and computes the select list.
    pub scan: Scan,
    pub finish: Finish,
    pub columns: Arc<[String]>,
}

impl CompiledRule {
    /// The windows an event at `ts_ms` in `cell` may change, as the event's
    /// pane and the range of window ends `first..=last` (in panes); `None`
    /// when there is none: WHERE excludes the cell, or every such window
    /// starts before `fine_from_sec` (1 s panes only).
    fn changed_windows(
        &self,
        ts_ms: Millis,
        cell: CellId,
        fine_from_sec: i64,
    ) -> Option<(i64, i64, i64)> {
        // An event WHERE excludes changes nothing the rule reads.
        if !self.scan.admits_cell(cell) {
            return None;
        }
        let (p, d) = (self.pane_secs, self.panes);
        let pane = ts_ms.div_euclid(1000 * p);
        let mut first = pane;
        if p == 1 {
            first = first.max(fine_from_sec.saturating_add(d - 1));
        }
        let last = pane + d - 1;
        (first <= last).then_some((pane, first, last))
    }

    /// The exclusive end, in milliseconds, of the window ending at pane `end`.
    fn window_end_ms(&self, end: i64) -> Millis {
        (end + 1) * self.pane_secs * 1000
    }

    /// Whether the condition holds for the window ending at pane `end`.
    /// Leaves the finished aggregate values in `aggs` for the select list.
    fn holds(
        &self,
        store: &PaneStore,
        end: i64,
        key: &Value,
        accs: &mut Vec<MetricAgg>,
        aggs: &mut Vec<Value>,
    ) -> bool {
        let window = WindowSpec {
            length_ms: self.length_ms,
            now_ms: self.window_end_ms(end) - 1,
        };
        accs.clear();
        accs.resize(self.scan.aggs.len(), MetricAgg::default());
        self.scan.accumulate_group(store, &window, accs)
            && self.finish.group_passes(&self.scan, key, accs, aggs)
    }
}

/// The compiled rules in force, shared by every shard.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<CompiledRule>,
    /// Per actor kind: indexes into `rules` of the rules it evaluates.
    by_kind: Vec<Vec<usize>>,
}

impl RuleSet {
    pub fn new(rules: Vec<CompiledRule>) -> RuleSet {
        let kinds = rules.iter().map(|r| r.kind + 1).max().unwrap_or(0);
        let mut by_kind = vec![Vec::new(); kinds];
        for (i, rule) in rules.iter().enumerate() {
            by_kind[rule.kind].push(i);
        }
        RuleSet { rules, by_kind }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule is evaluated by actors of `kind`.
    pub fn watches(&self, kind: usize) -> bool {
        self.by_kind.get(kind).is_some_and(|r| !r.is_empty())
    }
}

/// A shard's rule state: the rules in force, which entities' conditions
/// currently hold (the edge state), reusable buffers, and hits not yet
/// handed back to the engine.
///
/// Edge state per rule and entity: *armed* or *firing*. An evaluation that
/// finds the condition true while armed records a hit and fires; one that
/// finds it false re-arms — but only for the entity's newest window (the
/// one ending at its newest pane). A late event's evaluations of older
/// windows record a hit only for a window the event made true (a violation
/// found late), and never re-arm, so disorder does not split one ongoing
/// violation into several hits.
#[derive(Debug, Default)]
pub struct Watcher {
    rules: Arc<RuleSet>,
    /// Per rule (same index as `rules.rules`): the keys whose last
    /// evaluation found the condition true. Kept here, not in entities, so
    /// an engine without rules spends nothing per entity; it only holds the
    /// actors currently in violation.
    firing: Vec<HashSet<Key>>,
    /// Accumulators and finished aggregate values, reused per evaluation.
    accs: Vec<MetricAgg>,
    aggs: Vec<Value>,
    hits: Vec<Hit>,
    /// `(rule index, window end)` of the older windows that held before the
    /// late event being applied, ascending (see [`Self::before_late`]).
    held_before: Vec<(usize, i64)>,
    /// Edge state loaded from a checkpoint, by rule id, waiting for the
    /// rule set it belongs to: the next [`Self::install`] takes it.
    restored: Vec<(u64, HashSet<Key>)>,
}

impl Watcher {
    /// Puts `rules` in force. Edge state survives for rules present in both
    /// sets (matched by id) and is dropped for the others.
    pub fn install(&mut self, rules: &Arc<RuleSet>) {
        if Arc::ptr_eq(&self.rules, rules) {
            return;
        }
        let mut old: Vec<(u64, HashSet<Key>)> = self
            .rules
            .rules
            .iter()
            .map(|r| r.id)
            .zip(std::mem::take(&mut self.firing))
            .collect();
        old.append(&mut self.restored);
        self.firing = rules
            .rules
            .iter()
            .map(|r| {
                old.iter_mut()
                    .find(|(id, _)| *id == r.id)
                    .map(|(_, set)| std::mem::take(set))
                    .unwrap_or_default()
            })
            .collect();
        self.rules = rules.clone();
    }

    /// The edge state, for a checkpoint: per rule id, the keys firing.
    pub fn save(&self) -> SavedFiring {
        let installed = self.rules.rules.iter().map(|r| r.id).zip(&self.firing);
        let restored = self.restored.iter().map(|(id, set)| (*id, set));
        SavedFiring::of(installed.chain(restored))
    }

    /// A watcher with the edge state of a checkpoint, which the first
    /// [`Self::install`] of the restored rules puts with its rules.
    pub fn restored(saved: SavedFiring) -> Watcher {
        Watcher {
            restored: saved.sets(),
            ..Watcher::default()
        }
    }

    /// Whether entities of `kind` have rules to evaluate.
    pub fn watches(&self, kind: usize) -> bool {
        self.rules.watches(kind)
    }

    /// Before a *late* event (older than the entity's newest pane) is added
    /// to `store`: notes which of the older windows it will change already
    /// hold, so that [`Self::check`] reports only those it makes true.
    /// Does nothing for an event in time order.
    pub fn before_late(
        &mut self,
        kind: usize,
        key: &Key,
        store: &PaneStore,
        ts_ms: Millis,
        cell: CellId,
        fine_from_sec: i64,
    ) {
        let Watcher {
            rules,
            accs,
            aggs,
            held_before,
            ..
        } = self;
        held_before.clear();
        let Some(indexes) = rules.by_kind.get(kind) else {
            return;
        };
        let mut key_value: Option<Value> = None;
        for &i in indexes {
            let rule = &rules.rules[i];
            let Some((pane, first, last)) = rule.changed_windows(ts_ms, cell, fine_from_sec) else {
                continue;
            };
            let newest = store.newest_pane(rule.pane_secs);
            if newest.is_none_or(|n| pane >= n) {
                continue;
            }
            let key_value = key_value.get_or_insert_with(|| key.to_value());
            store.for_each_pane(rule.pane_secs, first, last, |end| {
                if Some(end) != newest && rule.holds(store, end, key_value, accs, aggs) {
                    held_before.push((i, end));
                }
            });
        }
    }

    /// Evaluates the rules of `kind` on the entity `key`, whose `store` has
    /// just taken an event at `ts_ms` in `cell`. Only the windows that
    /// contain the event and end at one of the entity's panes are checked
    /// (see the module docs of [`crate::rules`]).
    ///
    /// `fine_from_sec` is the first second the fine tier is complete from:
    /// a 1 s-pane window that starts earlier has had seconds folded into
    /// minutes and is not evaluated.
    pub fn check(
        &mut self,
        kind: usize,
        key: &Key,
        store: &PaneStore,
        ts_ms: Millis,
        cell: CellId,
        fine_from_sec: i64,
    ) {
        let Watcher {
            rules,
            firing,
            accs,
            aggs,
            hits,
            held_before,
            ..
        } = self;
        let Some(indexes) = rules.by_kind.get(kind) else {
            return;
        };
        let mut key_value: Option<Value> = None;
        for &i in indexes {
            let rule = &rules.rules[i];
            let Some((_, first, last)) = rule.changed_windows(ts_ms, cell, fine_from_sec) else {
                continue;
            };
            let key_value = key_value.get_or_insert_with(|| key.to_value());
            let newest = store.newest_pane(rule.pane_secs);
            let set = &mut firing[i];
            store.for_each_pane(rule.pane_secs, first, last, |end| {
                let holds = rule.holds(store, end, key_value, accs, aggs);
                let is_newest = Some(end) == newest;
                if holds {
                    // An older window that held before this event was
                    // already judged; only one this event made true counts.
                    let held = !is_newest && held_before.binary_search(&(i, end)).is_ok();
                    if !held && !set.contains(key) {
                        set.insert(key.clone());
                        hits.push(Hit {
                            rule: rule.name.clone(),
                            kind: rule.kind_name.clone(),
                            key: key_value.clone(),
                            window_end_ms: rule.window_end_ms(end),
                            columns: rule.columns.clone(),
                            values: rule.finish.group_outputs(key_value, aggs),
                        });
                    }
                } else if is_newest && !set.is_empty() {
                    // Only the newest window re-arms: an older one says
                    // nothing about the present.
                    set.remove(key);
                }
            });
        }
        held_before.clear();
    }

    /// Forgets the edge state of passivated entities of `kind`: `alive`
    /// says whether an entity is still active.
    pub fn forget_passivated(&mut self, kind: usize, alive: impl Fn(&Key) -> bool) {
        for (rule, set) in self.rules.rules.iter().zip(&mut self.firing) {
            if rule.kind == kind && !set.is_empty() {
                set.retain(|k| alive(k));
            }
        }
    }

    /// The hits found since the last call.
    pub fn take_hits(&mut self) -> Vec<Hit> {
        std::mem::take(&mut self.hits)
    }
}
