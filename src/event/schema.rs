//! Schemas: what a line of JSON means to tally.
//!
//! A schema names the time field (or arrival time), the id used for
//! de-duplication, the type field, the actor kinds and their key fields, the
//! dimensions one may filter and group on, and the numeric metrics one may
//! aggregate. Five presets cover the common shapes (reels, shop, clicks,
//! stats, ledger: docs/events.md); anything else is a custom schema file
//! with the same structure in JSON.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The JSON type a field must have. A value of another type is rejected as
/// `invalid_field`, so that a string user id never silently becomes a new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Int,
    Float,
    String,
    Bool,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::String => "string",
            FieldType::Bool => "bool",
        })
    }
}

/// A field of the event, addressed by a dotted path into nested objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Dotted path, e.g. `metadata.view_duration_ms`. Also the column name.
    pub field: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// A required field that is absent (or null) rejects the line as
    /// `missing_field`; an optional one reads as NULL.
    #[serde(default)]
    pub required: bool,
}

impl Field {
    fn new(field: &str, ty: FieldType, required: bool) -> Field {
        Field {
            field: field.into(),
            ty,
            required,
        }
    }

    /// The path split at dots, for walking nested objects.
    pub fn path(&self) -> impl Iterator<Item = &str> {
        self.field.split('.')
    }
}

/// A kind of virtual actor: one entity per distinct key value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorKind {
    /// Plural name used in stats and EXPLAIN: `users`, `videos`.
    pub name: String,
    /// The key field; always required, `int` or `string`.
    pub key: String,
    #[serde(rename = "type", default = "default_key_type")]
    pub key_type: FieldType,
    /// Whether these actors also keep percentile sketches of the declared
    /// metrics (per-actor medians). Off by default: a sketch per pane slot
    /// costs far more than the slot, and percentiles are mostly global.
    #[serde(default)]
    pub percentiles: bool,
}

fn default_key_type() -> FieldType {
    FieldType::Int
}

/// The keys a schema file's `time` may hold, checked before the schema is
/// read so that a typo is named (serde would only say where it stopped).
fn check_time_keys(json: &serde_json::Value) -> std::result::Result<(), String> {
    let Some(time) = json.get("time") else {
        return Ok(());
    };
    match time {
        serde_json::Value::Object(o) => match o.keys().find(|k| *k != "field") {
            Some(k) => Err(format!(
                "time: unknown key '{k}'; time is {{\"field\": \"PATH\"}} or \"arrival\""
            )),
            None if o.is_empty() => {
                Err("time: {} names no field; write {\"field\": \"PATH\"} or \"arrival\"".into())
            }
            None => Ok(()),
        },
        serde_json::Value::String(s) if s == "arrival" => Ok(()),
        other => Err(format!(
            "time: {other} is not a time source; time is {{\"field\": \"PATH\"}} or \"arrival\""
        )),
    }
}

/// How an event's time is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSource {
    /// The event's own field: RFC 3339 with Z or offset, naive ISO (UTC),
    /// or epoch seconds / milliseconds as numbers.
    Field(String),
    /// No time in the event: it happened when tally received it.
    Arrival,
}

/// What a line means: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub name: String,
    pub time: TimeSource,
    /// Field whose value identifies an event for de-duplication, if any.
    #[serde(default)]
    pub id: Option<String>,
    /// The dimension that holds the event type (`TOP k` usually ranks it).
    #[serde(default, rename = "type")]
    pub type_field: Option<String>,
    #[serde(default)]
    pub actors: Vec<ActorKind>,
    /// Low-cardinality fields to filter and group on. Their distinct
    /// combinations are interned, so keep them few (an event type, a device).
    #[serde(default)]
    pub dimensions: Vec<Field>,
    /// Numeric fields to aggregate (SUM, MIN, MAX, AVG, COUNT).
    #[serde(default)]
    pub metrics: Vec<Field>,
    /// Other fields checked for type but not aggregated (e.g. `creator_id`).
    #[serde(default)]
    pub attributes: Vec<Field>,
    /// Metrics that keep a percentile sketch per pane, for `MEDIAN` and
    /// `PERCENTILE`. Sketches cost memory per slot, so they are declared.
    #[serde(default)]
    pub percentiles: Vec<String>,
    /// Columns `COUNT(DISTINCT x)` may count: actor keys and int/string
    /// attributes keep a HyperLogLog per pane; dimensions are counted
    /// exactly from the cells and cost nothing.
    #[serde(default)]
    pub distinct: Vec<String>,
}

/// Where the value of a declared distinct column comes from, for the
/// sketches of [`crate::window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistinctSource {
    /// Actor key `k` of the event.
    Key(usize),
    /// The `j`-th entry of [`crate::event::Event::attr_hashes`], the hash of
    /// attribute [`Schema::hashed_attributes`]`[j]`.
    Attribute(usize),
}

/// At most this many sketched distinct columns (keys and attributes).
pub const MAX_DISTINCT_SKETCHES: usize = 16;

/// Lines from the start of the first input that schema detection reads.
pub const DETECT_LINES: usize = 64;

/// The names of the built-in presets, in detection order.
pub const PRESETS: [&str; 5] = ["reels", "shop", "clicks", "stats", "ledger"];

impl Schema {
    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Schema> {
        use FieldType::*;
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let actor = |name: &str, key: &str, key_type| ActorKind {
            name: name.into(),
            key: key.into(),
            key_type,
            percentiles: false,
        };
        let schema = match name {
            "reels" => Schema {
                name: "reels".into(),
                time: TimeSource::Field("timestamp".into()),
                id: Some("event_id".into()),
                type_field: Some("event_type".into()),
                actors: vec![
                    actor("users", "user_id", Int),
                    actor("videos", "video_id", Int),
                ],
                dimensions: vec![
                    Field::new("event_type", String, true),
                    Field::new("metadata.device_type", String, false),
                ],
                metrics: vec![
                    Field::new("metadata.view_duration_ms", Int, false),
                    Field::new("metadata.video_position", Float, false),
                ],
                attributes: vec![
                    Field::new("creator_id", Int, false),
                    Field::new("session_id", String, false),
                ],
                percentiles: names(&["metadata.view_duration_ms", "metadata.video_position"]),
                distinct: names(&["user_id", "video_id", "creator_id"]),
            },
            "shop" => Schema {
                name: "shop".into(),
                time: TimeSource::Field("timestamp".into()),
                id: None,
                type_field: Some("event".into()),
                actors: vec![
                    actor("customers", "customer_id", Int),
                    actor("items", "item_id", Int),
                ],
                dimensions: vec![Field::new("event", String, true)],
                metrics: vec![Field::new("price", Float, false)],
                attributes: vec![],
                percentiles: names(&["price"]),
                distinct: names(&["customer_id", "item_id"]),
            },
            "clicks" => Schema {
                name: "clicks".into(),
                time: TimeSource::Field("ts".into()),
                id: Some("id".into()),
                type_field: Some("type".into()),
                actors: vec![actor("users", "user", String)],
                dimensions: vec![Field::new("type", String, true)],
                metrics: vec![Field::new("payload.value", Float, false)],
                attributes: vec![Field::new("payload.notes", String, false)],
                percentiles: names(&["payload.value"]),
                distinct: names(&["user"]),
            },
            "stats" => Schema {
                name: "stats".into(),
                time: TimeSource::Field("timestamp".into()),
                id: None,
                type_field: None,
                actors: vec![],
                dimensions: vec![],
                metrics: vec![Field::new("value", Float, true)],
                attributes: vec![],
                percentiles: names(&["value"]),
                distinct: vec![],
            },
            "ledger" => Schema {
                name: "ledger".into(),
                time: TimeSource::Arrival,
                id: Some("id".into()),
                type_field: Some("category".into()),
                actors: vec![],
                dimensions: vec![Field::new("category", String, true)],
                metrics: vec![Field::new("value", Float, true)],
                attributes: vec![],
                percentiles: names(&["value"]),
                distinct: vec![],
            },
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown schema preset '{other}'; presets: {}; or pass a schema file (.json)",
                    PRESETS.join(", ")
                )))
            }
        };
        Ok(schema)
    }

    /// A preset name, or the path of a custom schema file in JSON.
    pub fn load(name_or_path: &str) -> Result<Schema> {
        if PRESETS.contains(&name_or_path) {
            return Schema::preset(name_or_path);
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains(['/', '\\', '.']);
        if !path.exists() && !looks_like_path {
            return Schema::preset(name_or_path);
        }
        if !path.exists() {
            return Err(Error::InvalidInput(format!(
                "schema file {name_or_path}: file not found; --schema takes a preset ({}) \
                 or the path of a schema file",
                PRESETS.join(", ")
            )));
        }
        let text = crate::files::read_file(path, "schema")?;
        Schema::from_file_text(&text, &path.display().to_string())
    }

    /// A schema from the text of a schema file; `origin` names the file in
    /// errors.
    pub fn from_file_text(text: &str, origin: &str) -> Result<Schema> {
        let bad = |e: String| Error::InvalidInput(format!("schema file {origin}: {e}"));
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        check_time_keys(&json).map_err(bad)?;
        let schema: Schema = serde_json::from_value(json).map_err(|e| bad(e.to_string()))?;
        schema.validate()?;
        Ok(schema)
    }

    /// Checks a custom schema for what would make queries ambiguous or wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| {
            Err(Error::InvalidInput(format!(
                "schema '{}': {msg}",
                self.name
            )))
        };
        let mut seen = std::collections::HashSet::new();
        let columns = self.columns();
        for column in &columns {
            if !seen.insert(column.clone()) {
                return bad(format!("field '{column}' is declared twice"));
            }
            // A path names an object member at each dot: `a..b`, `.lead`,
            // `tail.` and `""` name none, and no line could ever match.
            if column.split('.').any(str::is_empty) {
                return bad(format!(
                    "field path '{column}' has an empty part; write names joined by single dots, such as metadata.device_type"
                ));
            }
        }
        // `shipping` and `shipping.country` cannot both be scalars: a line
        // where one is a value has no room for the other.
        for a in &columns {
            for b in &columns {
                if b.len() > a.len() && b.starts_with(a.as_str()) && b.as_bytes()[a.len()] == b'.' {
                    return bad(format!(
                        "fields '{a}' and '{b}' conflict: '{a}' would be both a value and an object; keep one of them"
                    ));
                }
            }
        }
        for a in &self.actors {
            if !matches!(a.key_type, FieldType::Int | FieldType::String) {
                return bad(format!("actor key '{}' must be int or string", a.key));
            }
        }
        for m in &self.metrics {
            if !matches!(m.ty, FieldType::Int | FieldType::Float) {
                return bad(format!("metric '{}' must be int or float", m.field));
            }
        }
        for p in &self.percentiles {
            if self.metric(p).is_none() {
                return bad(format!(
                    "percentiles: '{p}' is not a metric; percentile sketches are kept for metrics ({})",
                    self.metrics.iter().map(|m| m.field.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for d in &self.distinct {
            let attribute = self.attributes.iter().find(|a| &a.field == d);
            let ok = self.actor(d).is_some()
                || self.dimension(d).is_some()
                || attribute.is_some_and(|a| matches!(a.ty, FieldType::Int | FieldType::String));
            if !ok {
                let why = if self.metric(d).is_some() {
                    "it is a metric; distinct counts are kept for actor keys, dimensions and \
                     int or string attributes"
                } else if attribute.is_some() {
                    "only int or string attributes can be counted"
                } else {
                    "declare an actor key, a dimension or an attribute"
                };
                return bad(format!("distinct: cannot count '{d}': {why}"));
            }
        }
        if self.distinct_sources().len() > MAX_DISTINCT_SKETCHES {
            return bad(format!(
                "distinct: at most {MAX_DISTINCT_SKETCHES} actor keys and attributes"
            ));
        }
        if let Some(t) = &self.type_field {
            if self.dimension(t).is_none() {
                return bad(format!(
                    "type field '{t}' must also be listed in dimensions"
                ));
            }
        }
        Ok(())
    }

    /// Every column a query may name, in schema order: time, id, actor keys,
    /// dimensions, metrics, attributes.
    pub fn columns(&self) -> Vec<String> {
        let mut cols = Vec::new();
        if let TimeSource::Field(t) = &self.time {
            cols.push(t.clone());
        }
        cols.extend(self.id.iter().cloned());
        cols.extend(self.actors.iter().map(|a| a.key.clone()));
        cols.extend(self.dimensions.iter().map(|d| d.field.clone()));
        cols.extend(self.metrics.iter().map(|m| m.field.clone()));
        cols.extend(self.attributes.iter().map(|m| m.field.clone()));
        cols
    }

    pub fn dimension(&self, name: &str) -> Option<usize> {
        self.dimensions.iter().position(|d| d.field == name)
    }

    pub fn metric(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.field == name)
    }

    pub fn actor(&self, key: &str) -> Option<usize> {
        self.actors.iter().position(|a| a.key == key)
    }

    /// The metrics (by index) declared in [`Schema::percentiles`].
    pub fn percentile_metrics(&self) -> Vec<usize> {
        self.percentiles
            .iter()
            .filter_map(|p| self.metric(p))
            .collect()
    }

    /// The declared distinct columns that need a sketch (actor keys and
    /// attributes; dimensions are counted exactly), in declaration order.
    pub fn distinct_sources(&self) -> Vec<(String, DistinctSource)> {
        let hashed = self.hashed_attributes();
        self.distinct
            .iter()
            .filter_map(|d| {
                let source = match self.actor(d) {
                    Some(k) => DistinctSource::Key(k),
                    None => {
                        let a = self.attributes.iter().position(|a| &a.field == d)?;
                        DistinctSource::Attribute(hashed.iter().position(|&h| h == a)?)
                    }
                };
                Some((d.clone(), source))
            })
            .collect()
    }

    /// The attributes (by index) declared distinct: the parser hashes their
    /// values into [`crate::event::Event::attr_hashes`], in this order.
    pub fn hashed_attributes(&self) -> Vec<usize> {
        self.attributes
            .iter()
            .enumerate()
            .filter(|(_, a)| self.distinct.contains(&a.field))
            .map(|(i, _)| i)
            .collect()
    }

    /// Picks the preset that fits the sample lines best: the one under which
    /// the most lines parse cleanly, earlier presets winning ties. Lines that
    /// are not JSON objects do not vote.
    pub fn detect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Schema> {
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = lines
            .into_iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(DETECT_LINES)
            .collect();
        if objects.is_empty() {
            return Err(Error::InvalidInput(
                "cannot detect the schema: no JSON object among the first lines; \
                 pass --schema PRESET or --schema FILE.json"
                    .into(),
            ));
        }
        let mut best: Option<(usize, Schema)> = None;
        for name in PRESETS {
            let schema = Schema::preset(name)?;
            let fits = objects.iter().filter(|o| schema.fits(o)).count();
            if fits > 0 && best.as_ref().is_none_or(|(n, _)| fits > *n) {
                best = Some((fits, schema));
            }
        }
        if let Some((_, s)) = best {
            return Ok(s);
        }
        // A preset whose fields the lines carry, with fields it lacks too:
        // name both, since --schema PRESET reads them (the extra ignored).
        for name in PRESETS {
            let schema = Schema::preset(name)?;
            if let Some(o) = objects.iter().find(|o| schema.has_fields_of(o)) {
                let extra = schema.extra_fields(o).join(", ");
                return Err(Error::InvalidInput(format!(
                    "cannot detect the schema: the first lines have the fields of the {name} \
                     preset and also {extra}, which it lacks; pass --schema {name} to read \
                     them ({extra} ignored), or a schema file that declares them"
                )));
            }
        }
        Err(Error::InvalidInput(format!(
            "cannot detect the schema: the first lines match none of the presets ({}); \
             pass --schema FILE.json (see docs/events.md, \"Custom schemas\")",
            PRESETS.join(", ")
        )))
    }

    /// Whether an object carries every required field of this schema with
    /// the right type, and no field the schema lacks at the top level.
    fn fits(&self, object: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.has_fields_of(object) && self.extra_fields(object).is_empty()
    }

    /// The top-level fields of an object that this schema has no column in.
    fn extra_fields<'o>(
        &self,
        object: &'o serde_json::Map<String, serde_json::Value>,
    ) -> Vec<&'o str> {
        let columns = self.columns();
        let top_level: std::collections::HashSet<&str> = columns
            .iter()
            .map(|c| c.split('.').next().unwrap_or(c))
            .collect();
        object
            .keys()
            .map(String::as_str)
            .filter(|k| !top_level.contains(k))
            .collect()
    }

    /// Whether an object carries every required field of this schema with
    /// the right type (fields the schema lacks allowed).
    fn has_fields_of(&self, object: &serde_json::Map<String, serde_json::Value>) -> bool {
        let value = serde_json::Value::Object(object.clone());
        let present = |path: &str| lookup(&value, path).is_some_and(|v| !v.is_null());
        let typed = |f: &Field| lookup(&value, &f.field).is_none_or(|v| type_matches(v, f.ty));
        let time_ok = match &self.time {
            TimeSource::Field(t) => present(t),
            TimeSource::Arrival => true,
        };
        time_ok
            && self.id.as_deref().is_none_or(present)
            && self.actors.iter().all(|a| present(&a.key))
            && self
                .dimensions
                .iter()
                .chain(&self.metrics)
                .all(|f| (!f.required || present(&f.field)) && typed(f))
    }
}

/// Follows a dotted path into nested objects.
pub fn lookup<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

fn type_matches(v: &serde_json::Value, ty: FieldType) -> bool {
    match ty {
        FieldType::Int => v.is_i64() || v.is_u64() || v.is_null(),
        FieldType::Float => v.is_number() || v.is_null(),
        FieldType::String => v.is_string() || v.is_null(),
        FieldType::Bool => v.is_boolean() || v.is_null(),
    }
}

/// What `.schema` prints: one line per column with its role.
impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "schema {}", self.name)?;
        match &self.time {
            TimeSource::Field(t) => writeln!(f, "  {t:<28} time")?,
            TimeSource::Arrival => writeln!(f, "  {:<28} time = arrival time", "(none)")?,
        }
        match &self.id {
            Some(id) => writeln!(f, "  {id:<28} id (de-duplication)")?,
            None => writeln!(
                f,
                "  {:<28} no id: duplicate lines cannot be de-duplicated",
                "(none)"
            )?,
        }
        for a in &self.actors {
            writeln!(
                f,
                "  {:<28} {} key of actor kind '{}'",
                a.key, a.key_type, a.name
            )?;
        }
        for d in &self.dimensions {
            let role = if Some(&d.field) == self.type_field.as_ref() {
                "type dimension"
            } else {
                "dimension"
            };
            writeln!(f, "  {:<28} {} {role}", d.field, d.ty)?;
        }
        for m in &self.metrics {
            writeln!(f, "  {:<28} {} metric", m.field, m.ty)?;
        }
        for a in &self.attributes {
            writeln!(
                f,
                "  {:<28} {} attribute (checked, not aggregated)",
                a.field, a.ty
            )?;
        }
        if !self.percentiles.is_empty() {
            writeln!(
                f,
                "  percentile sketches (MEDIAN, PERCENTILE): {} — global state{}",
                self.percentiles.join(", "),
                self.actors
                    .iter()
                    .filter(|a| a.percentiles)
                    .map(|a| format!(", {}", a.name))
                    .collect::<String>()
            )?;
        }
        let sketched: Vec<String> = self
            .distinct_sources()
            .iter()
            .map(|(name, source)| {
                let mut kept = vec!["global".to_string()];
                if let DistinctSource::Key(k) = source {
                    kept.extend(
                        (0..self.actors.len())
                            .filter(|o| o != k)
                            .map(|o| self.actors[o].name.clone()),
                    );
                }
                format!("{name} ({})", kept.join(", "))
            })
            .collect();
        if !sketched.is_empty() {
            writeln!(
                f,
                "  distinct sketches (COUNT(DISTINCT)): {}",
                sketched.join(", ")
            )?;
        }
        if !self.dimensions.is_empty() {
            writeln!(
                f,
                "  exact distinct counts (COUNT(DISTINCT) of dimensions, no sketch): {}",
                self.dimensions
                    .iter()
                    .map(|d| d.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_every_preset_from_its_seed_line() {
        let cases = [
            (
                "reels",
                r#"{"event_id":"evt_1","event_type":"video_view","user_id":987654321,"video_id":567890123,"creator_id":123456789,"timestamp":"2025-01-15T14:30:45.123Z","session_id":"sess_1","metadata":{"view_duration_ms":15000,"video_position":0.75,"device_type":"mobile"}}"#,
            ),
            (
                "shop",
                r#"{"event":"add_to_cart","timestamp":"2025-01-15T14:30:45Z","item_id":3,"customer_id":17,"price":129.5}"#,
            ),
            (
                "clicks",
                r#"{"id":0,"ts":"2025-06-12T08:08:53.889057","user":"user8","type":"CLICK","payload":{"value":760,"notes":"..."}}"#,
            ),
            (
                "stats",
                r#"{"timestamp":"2025-06-26T14:30:00Z","value":12.34}"#,
            ),
            ("ledger", r#"{"id":7,"category":"A","value":3.5}"#),
        ];
        for (name, line) in cases {
            assert_eq!(Schema::detect([line]).unwrap().name, name, "{line}");
        }
    }

    #[test]
    fn detection_ignores_garbage_and_reports_no_match() {
        let s = Schema::detect(["not json", r#"{"id":7,"category":"A","value":3.5}"#]).unwrap();
        assert_eq!(s.name, "ledger");
        let err = Schema::detect([r#"{"foo":1}"#]).unwrap_err().to_string();
        assert!(err.contains("match none of the presets"), "{err}");
        let line = r#"{"id":7,"category":"A","value":3.5,"zzz":1}"#;
        let err = Schema::detect([line]).unwrap_err().to_string();
        assert!(
            err.contains("fields of the ledger preset and also zzz")
                && err.contains("pass --schema ledger"),
            "{err}"
        );
    }

    #[test]
    fn sketch_declarations_default_to_none_and_are_validated() {
        let old = r#"{"name":"o","time":"arrival","metrics":[{"field":"amount","type":"float"}],
                      "attributes":[{"field":"f","type":"float"}]}"#;
        let s: Schema = serde_json::from_str(old).unwrap();
        assert!(s.percentiles.is_empty() && s.distinct.is_empty());
        s.validate().unwrap();
        let bad = |f: fn(&mut Schema)| {
            let mut s = s.clone();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(bad(|s| s.percentiles = vec!["f".into()]).contains("not a metric"));
        assert!(bad(|s| s.distinct = vec!["amount".into()]).contains("it is a metric"));
        assert!(bad(|s| s.distinct = vec!["f".into()]).contains("int or string attributes"));
        assert!(bad(|s| s.distinct = vec!["nope".into()]).contains("cannot count 'nope'"));
        let reels = Schema::preset("reels").unwrap();
        assert_eq!(reels.hashed_attributes(), [0], "creator_id");
        let shown = reels.to_string();
        assert!(shown.contains("distinct sketches (COUNT(DISTINCT)): user_id (global, videos)"));
    }

    #[test]
    fn custom_schema_round_trips_and_is_validated() {
        let json = serde_json::to_string(&Schema::preset("shop").unwrap()).unwrap();
        let back: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Schema::preset("shop").unwrap());
        let mut bad = back.clone();
        bad.type_field = Some("nope".into());
        assert!(bad.validate().is_err());
    }

    #[test]
    fn schema_files_name_what_is_wrong_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let path = dir.path().join("s.json");
            std::fs::write(&path, text).unwrap();
            Schema::load(path.to_str().unwrap())
                .unwrap_err()
                .to_string()
        };
        let e = Schema::load("./nosuch.json").unwrap_err().to_string();
        assert!(e.contains("./nosuch.json: file not found"), "{e}");
        let e = Schema::load("nosuch").unwrap_err().to_string();
        assert!(e.contains("preset"), "{e}");
        let e = load(r#"{"name":"x","time":{"field":"t","fromat":"iso"}}"#);
        assert!(e.contains("time: unknown key 'fromat'"), "{e}");
        let with = |fields: &str| {
            load(&format!(
                r#"{{"name":"x","time":{{"field":"t"}},"attributes":[{fields}]}}"#
            ))
        };
        let f = |p: &str| format!(r#"{{"field":"{p}","type":"string"}}"#);
        let e = with(&format!("{},{}", f("shipping"), f("shipping.country")));
        assert!(
            e.contains("'shipping' and 'shipping.country' conflict"),
            "{e}"
        );
        for empty in ["", "a..b", ".lead", "tail."] {
            let e = with(&f(empty));
            assert!(
                e.contains(&format!("field path '{empty}' has an empty part")),
                "{e}"
            );
        }
        // Siblings that share a prefix are fine.
        let path = dir.path().join("ok.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"name":"x","time":{{"field":"t"}},"attributes":[{},{}]}}"#,
                f("ship"),
                f("shipping.country")
            ),
        )
        .unwrap();
        Schema::load(path.to_str().unwrap()).unwrap();
    }
}
