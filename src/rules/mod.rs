//! Continuous rules: conditions the actors check on every event they
//! receive, so a violation is caught the moment it happens, wherever the
//! window is.
//!
//! `CREATE RULE rate_limit AS SELECT user_id, COUNT(*) AS n FROM events
//! GROUP BY user_id HAVING n > 20 WINDOW 60s` answers "users with more than
//! 20 events in *any* 60 s", which a query over the window ending now cannot.
//!
//! - [`Rules`] is the engine's registry: it checks a rule's shape (one actor
//!   key in GROUP BY, HAVING, WINDOW, nothing else), plans it with the
//!   ordinary planner, re-plans every rule when new dimension cells appear,
//!   counts hits and keeps the recent ones.
//! - [`RuleSet`] is the immutable compiled set, shared by every shard; the
//!   engine hands the current one along with each batch, so a change takes
//!   effect at an exact point of the stream.
//! - [`SavedRules`] and [`SavedFiring`] are what a checkpoint keeps of the
//!   registry and of each shard's watcher (`saved.rs`).
//! - [`Watcher`] is a shard's side: after an entity's panes take an event,
//!   it evaluates that kind's rules over the windows the event changed and
//!   turns rising edges into [`Hit`]s.
//!
//! Which windows are checked: with pane size P (1 s for windows up to 1 h,
//! 1 min beyond), the windows that *end at a pane holding one of the
//! entity's events*. An event at pane q re-evaluates each such window that
//! contains it — the one ending at q, and (when it arrived out of order) the
//! later ones up to q + d/P − 1 — over what the entity holds at that moment.
//! For conditions that only grow with more events (COUNT or SUM of
//! non-negative values above a threshold), the best window always ends at
//! an event, so a rule then finds every pane-aligned window where the
//! condition holds. A window ending where the entity has no event (one an
//! event just left) is not checked.
//!
//! Hits are edge-triggered per rule and entity: an evaluation that finds the
//! condition true records a hit if the rule is armed, and disarms it; an
//! evaluation of the entity's newest window (ending at its newest pane)
//! that finds it false re-arms it. In a stream in time order every
//! evaluation is of the newest window, so a hit is each run of events whose
//! newest window satisfies the condition. Older windows, revisited by a late
//! event, record a hit only when that event made them true (and the rule is
//! armed), and never re-arm. The actor's passivation re-arms the rule too.
mod hit;
mod registry;
mod saved;
mod watch;

pub use hit::Hit;
pub use registry::{Outcome, Rules, RECENT_HITS};
pub use saved::{SavedFiring, SavedRules};
pub use watch::{CompiledRule, RuleSet, Watcher};
