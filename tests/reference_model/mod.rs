//! A brute-force reference for tally, for the property tests of
//! `tests/reference.rs`.
//!
//! Everything here is deliberately plain and shares no code with the engine
//! except `tally::time` (timestamp parsing) and `tally::Value` (the answer's
//! values, so both sides can be compared):
//!
//! - [`admission`] reads raw lines the way docs/events.md and docs/windows.md say (schema checks
//!   per preset, de-duplication by id, too late, the future guard) into a
//!   plain `Vec` of accepted events;
//! - [`query`] holds queries as small structs, renders them to SQL for the
//!   engine, and answers them by brute force over that `Vec`;
//! - [`stream`] generates the random streams (proptest strategies).

pub mod admission;
pub mod query;
pub mod stream;

/// How the reference types a field of a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Str,
}

/// The reference's own description of a built-in preset (docs/events.md), written
/// out by hand rather than read from `tally::event::Schema`.
#[derive(Debug)]
pub struct Preset {
    /// The preset's name, as `Schema::preset` knows it.
    pub name: &'static str,
    pub time: &'static str,
    /// The de-duplication id field, if any.
    pub id: Option<&'static str>,
    /// The two actor keys (integers): users then videos, customers then items.
    pub keys: [&'static str; 2],
    /// Dimensions (strings) and whether each is required; the first is the
    /// event type.
    pub dims: &'static [(&'static str, bool)],
    /// Optional numeric metrics.
    pub metrics: &'static [(&'static str, Kind)],
    /// Optional attributes: type-checked, never aggregated.
    pub attrs: &'static [(&'static str, Kind)],
    /// The values each dimension takes in generated streams, plus one that
    /// never occurs (the last), for filters.
    pub dim_values: &'static [&'static [&'static str]],
}

pub const REELS: Preset = Preset {
    name: "reels",
    time: "timestamp",
    id: Some("event_id"),
    keys: ["user_id", "video_id"],
    dims: &[("event_type", true), ("metadata.device_type", false)],
    metrics: &[
        ("metadata.view_duration_ms", Kind::Int),
        ("metadata.video_position", Kind::Float),
    ],
    attrs: &[("creator_id", Kind::Int), ("session_id", Kind::Str)],
    dim_values: &[
        &["video_view", "like", "share", "comment", "skip", "nope"],
        &["mobile", "desktop", "tablet", "nope"],
    ],
};

pub const SHOP: Preset = Preset {
    name: "shop",
    time: "timestamp",
    id: None,
    keys: ["customer_id", "item_id"],
    dims: &[("event", true)],
    metrics: &[("price", Kind::Float)],
    attrs: &[],
    dim_values: &[&[
        "view",
        "add_to_cart",
        "purchase",
        "remove_from_cart",
        "wishlist",
        "nope",
    ]],
};

/// Which preset a generated stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetKind {
    Reels,
    Shop,
}

impl PresetKind {
    pub fn preset(self) -> &'static Preset {
        match self {
            PresetKind::Reels => &REELS,
            PresetKind::Shop => &SHOP,
        }
    }
}

/// Follows a dotted path into nested JSON objects.
pub fn lookup<'j>(json: &'j serde_json::Value, path: &str) -> Option<&'j serde_json::Value> {
    let mut at = json;
    for part in path.split('.') {
        at = at.as_object()?.get(part)?;
    }
    Some(at)
}
