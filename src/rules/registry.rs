//! The engine's rule registry: create, drop, show, re-plan, count hits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::hit::{Hit, HIT_FIELDS};
use super::saved::{SavedHit, SavedRule, SavedRules};
use super::watch::{CompiledRule, RuleSet};
use crate::codec::Blob;
use crate::error::{query_err, Error, Result};
use crate::query::{decode_rule, encode_rule, plan, Catalog, Route, RuleDef};
use crate::time::format_duration;
use crate::value::{ResultSet, Value};
use crate::window::WindowSpec;

/// How many recent hits the engine keeps in memory (`Engine::rule_hits`).
/// Older ones are still counted, and written to `--emit` when asked.
pub const RECENT_HITS: usize = 10_000;

/// A rule statement's answer, and whether it changed the rules in force:
/// only a change is written to the log (`--data`), so running the same
/// statements again writes nothing.
#[derive(Debug)]
pub struct Outcome {
    pub result: ResultSet,
    pub changed: bool,
}

/// A rule as created, with its counters.
#[derive(Debug)]
struct Entry {
    def: RuleDef,
    compiled: CompiledRule,
    hits: u64,
}

/// Every rule of an engine, the compiled set in force, and recent hits.
///
/// Creating a rule costs its planning and nothing per rule already there:
/// names are found through `by_name`, and the shared [`RuleSet`] is rebuilt
/// once, when the shards next need it ([`Rules::active`]), not on every
/// change — so a file of N rules is created in O(N).
#[derive(Debug, Default)]
pub struct Rules {
    /// In creation order, which `SHOW RULES` keeps.
    entries: Vec<Entry>,
    /// Rule name → its index in `entries`, for creating (the name must be
    /// new), dropping and counting hits without a scan of every rule.
    by_name: HashMap<String, usize>,
    next_id: u64,
    active: Arc<RuleSet>,
    /// `entries` changed since `active` was built.
    stale: bool,
    /// How many times `active` was built: the measure of the work that
    /// rule changes cost the shards (tests check it stays one per batch).
    builds: u64,
    /// How many cells the rules were planned against: WHERE and FILTER are
    /// evaluated per cell at plan time, so new cells mean a re-plan.
    planned_generation: u64,
    recent: VecDeque<Hit>,
}

impl Rules {
    /// The compiled rules in force, for the shards: built here when rules
    /// changed since the last call.
    pub fn active(&mut self) -> &Arc<RuleSet> {
        if self.stale {
            self.stale = false;
            self.builds += 1;
            self.active = Arc::new(RuleSet::new(
                self.entries.iter().map(|e| e.compiled.clone()).collect(),
            ));
        }
        &self.active
    }

    /// How many times the rule set in force was built (see [`Rules::active`]).
    pub fn builds(&self) -> u64 {
        self.builds
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a rule of this name is in force.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Whether the cells changed (new ones, or freed ids reused) since the
    /// rules were planned; `generation` is the dictionary's.
    pub fn needs_replan(&self, generation: u64) -> bool {
        !self.entries.is_empty() && generation != self.planned_generation
    }

    /// `CREATE RULE`: checks the shape, plans it, and puts it in force. A
    /// rule of that name with the same definition is left as it is (so a
    /// file of rules can be run again, as after a restart); one with
    /// another definition is an error.
    pub fn create(&mut self, def: &RuleDef, catalog: &Catalog, generation: u64) -> Result<Outcome> {
        if let Some(result) = self.existing(def)? {
            return Ok(Outcome {
                result,
                changed: false,
            });
        }
        let compiled = compile(def, self.next_id, catalog)?;
        self.next_id += 1;
        let row = describe(def, &compiled);
        self.by_name.insert(def.name.clone(), self.entries.len());
        self.entries.push(Entry {
            def: def.clone(),
            compiled,
            hits: 0,
        });
        self.install(generation);
        Ok(Outcome {
            result: ResultSet {
                columns: ["rule", "kind", "window", "condition"]
                    .map(String::from)
                    .to_vec(),
                rows: vec![row],
            },
            changed: true,
        })
    }

    /// What `CREATE RULE` of `def` answers when a rule of its name exists:
    /// a note when it has the same definition (nothing to do), an error
    /// when another. `None`: the name is free.
    pub fn existing(&self, def: &RuleDef) -> Result<Option<ResultSet>> {
        let Some(&at) = self.by_name.get(&def.name) else {
            return Ok(None);
        };
        if self.entries[at].def.select != def.select {
            return Err(query_err!(
                "rule '{}' already exists with another definition; DROP RULE {} first, \
                 or pick another name",
                def.name,
                def.name
            ));
        }
        Ok(Some(note(format!(
            "rule {} already exists, unchanged",
            def.name
        ))))
    }

    /// `DROP RULE [IF EXISTS]`: its edge state goes with it; its past hits
    /// stay among the recent ones. With `if_exists`, an unknown rule is a
    /// no-op rather than an error.
    pub fn drop_rule(&mut self, name: &str, if_exists: bool, generation: u64) -> Result<Outcome> {
        let Some(at) = self.by_name.remove(name) else {
            if if_exists {
                return Ok(Outcome {
                    result: note(format!("rule {name} does not exist, nothing dropped")),
                    changed: false,
                });
            }
            return Err(self.unknown(name));
        };
        let entry = self.entries.remove(at);
        for later in &self.entries[at..] {
            if let Some(i) = self.by_name.get_mut(&later.def.name) {
                *i -= 1;
            }
        }
        self.install(generation);
        Ok(Outcome {
            result: ResultSet {
                columns: vec!["dropped".into(), "hits".into()],
                rows: vec![vec![Value::str(name), Value::Int(entry.hits as i64)]],
            },
            changed: true,
        })
    }

    /// Every rule, its counters and the recent hits, for a checkpoint.
    pub fn save(&self) -> SavedRules {
        SavedRules {
            next_id: self.next_id,
            rules: (self.entries.iter())
                .map(|e| SavedRule {
                    id: e.compiled.id,
                    hits: e.hits,
                    definition: Blob(encode_rule(&e.def).into()),
                })
                .collect(),
            recent: self.recent.iter().map(SavedHit::of).collect(),
        }
    }

    /// The rules of a checkpoint, planned against the restored cells.
    /// Anything that does not decode or plan is an error: the checkpoint
    /// is then not used.
    pub fn restore(
        saved: SavedRules,
        catalog: &Catalog,
        generation: u64,
    ) -> std::result::Result<Rules, String> {
        let mut rules = Rules::default();
        for rule in saved.rules {
            let def = decode_rule(&rule.definition.0)?;
            if rule.id >= saved.next_id || rules.by_name.contains_key(&def.name) {
                return Err(format!("rule '{}' twice, or with a bad id", def.name));
            }
            let compiled = compile(&def, rule.id, catalog)
                .map_err(|e| format!("rule '{}' does not plan again: {e}", def.name))?;
            rules.by_name.insert(def.name.clone(), rules.entries.len());
            rules.entries.push(Entry {
                def,
                compiled,
                hits: rule.hits,
            });
        }
        if saved.recent.len() > RECENT_HITS {
            return Err(format!("{} recent hits", saved.recent.len()));
        }
        let mut columns = Vec::new();
        rules.recent = (saved.recent.into_iter())
            .map(|h| h.hit(&mut columns))
            .collect();
        rules.next_id = saved.next_id;
        rules.install(generation);
        Ok(rules)
    }

    /// `SHOW RULES`: one row per rule, in creation order.
    pub fn show(&self) -> ResultSet {
        ResultSet {
            columns: ["rule", "kind", "window", "condition", "hits"]
                .map(String::from)
                .to_vec(),
            rows: self
                .entries
                .iter()
                .map(|e| {
                    let mut row = describe(&e.def, &e.compiled);
                    row.push(Value::Int(e.hits as i64));
                    row
                })
                .collect(),
        }
    }

    /// Plans every rule again against the current cells, so that a rule
    /// never silently ignores cells interned after it was created.
    pub fn replan(&mut self, catalog: &Catalog, generation: u64) -> Result<()> {
        for entry in &mut self.entries {
            entry.compiled = compile(&entry.def, entry.compiled.id, catalog).map_err(|e| {
                Error::Internal(format!("re-planning rule '{}': {e}", entry.def.name))
            })?;
        }
        self.install(generation);
        Ok(())
    }

    /// Counts a delivered hit and keeps it among the recent ones.
    pub fn record(&mut self, hit: &Hit) {
        if let Some(&i) = self.by_name.get(&*hit.rule) {
            self.entries[i].hits += 1;
        }
        if self.recent.len() == RECENT_HITS {
            self.recent.pop_front();
        }
        self.recent.push_back(hit.clone());
    }

    /// The last [`RECENT_HITS`] hits, oldest first.
    pub fn recent(&self) -> &VecDeque<Hit> {
        &self.recent
    }

    /// Hits counted per rule, in creation order.
    pub fn counts(&self) -> Vec<(String, u64)> {
        self.entries
            .iter()
            .map(|e| (e.def.name.clone(), e.hits))
            .collect()
    }

    /// The columns of `rule_hits`: the fields every hit has, then the
    /// select-list columns of every rule, first seen first.
    pub fn hit_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = HIT_FIELDS.iter().map(|c| c.to_string()).collect();
        let mut seen: HashSet<&str> = HIT_FIELDS.iter().copied().collect();
        for entry in &self.entries {
            for c in entry.compiled.columns.iter() {
                if seen.insert(c) {
                    columns.push(c.clone());
                }
            }
        }
        columns
    }

    /// Marks the rule set in force for a rebuild, which [`Rules::active`]
    /// does when the shards next need it.
    fn install(&mut self, generation: u64) {
        self.planned_generation = generation;
        self.stale = true;
    }

    fn unknown(&self, name: &str) -> Error {
        let known: Vec<&str> = self.entries.iter().map(|e| e.def.name.as_str()).collect();
        if known.is_empty() {
            query_err!("unknown rule '{name}'; there are no rules (CREATE RULE name AS SELECT ...)")
        } else {
            query_err!("unknown rule '{name}'; rules: {}", known.join(", "))
        }
    }
}

/// A one-row answer that says what a statement did (or did not do).
fn note(text: String) -> ResultSet {
    ResultSet {
        columns: vec!["note".into()],
        rows: vec![vec![Value::Str(text.into())]],
    }
}

/// name, kind, window, condition.
fn describe(def: &RuleDef, compiled: &CompiledRule) -> Vec<Value> {
    vec![
        Value::str(&def.name),
        Value::str(&compiled.kind_name),
        Value::str(&format_duration(compiled.length_ms)),
        Value::str(&def.condition),
    ]
}

/// Checks a rule's shape and plans it.
fn compile(def: &RuleDef, id: u64, catalog: &Catalog) -> Result<CompiledRule> {
    let select = &def.select;
    let refuse = |why: String| query_err!("rule '{}': {why}", def.name);
    let keys: Vec<&str> = catalog
        .schema
        .actors
        .iter()
        .map(|a| a.key.as_str())
        .collect();
    if select.top.is_some() {
        return Err(refuse(
            "TOP k ranks groups; a rule checks each actor on its own. \
             Write SELECT key, COUNT(*) AS n ... GROUP BY key HAVING n > X"
                .into(),
        ));
    }
    let Some(length_ms) = select.window_ms else {
        return Err(refuse(
            "a rule needs WINDOW d, the length of the sliding window it watches, \
             like ... HAVING n > 20 WINDOW 60s"
                .into(),
        ));
    };
    if keys.is_empty() {
        return Err(refuse(format!(
            "schema {} has no actor kinds; rules are checked by actors",
            catalog.schema.name
        )));
    }
    if select.group_by.is_empty() {
        return Err(refuse(format!(
            "a rule must GROUP BY one actor key ({}): that kind's actors check it",
            keys.join(", ")
        )));
    }
    if select.having.is_none() {
        return Err(refuse(
            "a rule needs HAVING: the condition that makes a hit, like HAVING n > 20".into(),
        ));
    }
    if !select.order_by.is_empty() || select.limit.is_some() {
        return Err(refuse(
            "ORDER BY and LIMIT mean nothing in a rule (each hit is one actor's group); \
             drop them"
                .into(),
        ));
    }
    let planned = plan(select, catalog)?;
    let scan = Arc::unwrap_or_clone(planned.scan);
    let kind = match &scan.route {
        Route::Point { kind, .. } | Route::FanOut { kind }
            if scan.key_filter.is_some() || matches!(scan.route, Route::Point { .. }) =>
        {
            let actor = &catalog.schema.actors[*kind];
            return Err(refuse(format!(
                "WHERE on {} is not supported in a rule: it watches every {} actor; \
                 filter on dimensions or the event type",
                actor.key, actor.name
            )));
        }
        Route::FanOut { kind } if scan.group_by_key && planned.group_by.len() == 1 => *kind,
        _ => {
            return Err(refuse(format!(
                "a rule must GROUP BY exactly one actor key ({}) and nothing else; \
                 GROUP BY {} is not supported",
                keys.join(", "),
                planned.group_by.join(", ")
            )))
        }
    };
    if scan.has_sketches() {
        return Err(refuse(
            "MEDIAN, PERCENTILE and COUNT(DISTINCT ...) are not supported in rules yet; \
             use COUNT, SUM, MIN, MAX or AVG"
                .into(),
        ));
    }
    if !planned.finish.cumulative.is_empty() {
        return Err(refuse(
            "CUMULATIVE runs over time buckets; a rule checks one window per actor".into(),
        ));
    }
    let columns = planned.finish.columns.clone();
    if let Some(clash) = columns.iter().find(|c| HIT_FIELDS.contains(&c.as_str())) {
        return Err(refuse(format!(
            "the select-list column '{clash}' clashes with a field every hit has ({}); \
             give it another alias",
            HIT_FIELDS.join(", ")
        )));
    }
    let pane_secs = WindowSpec::pane_secs_of(length_ms);
    Ok(CompiledRule {
        id,
        name: Arc::from(def.name.as_str()),
        kind,
        kind_name: Arc::from(catalog.schema.actors[kind].name.as_str()),
        length_ms,
        pane_secs,
        panes: length_ms / (pane_secs * 1000),
        scan,
        finish: planned.finish,
        columns: columns.into(),
    })
}
