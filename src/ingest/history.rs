//! The id history: which event ids were admitted within retention, so that
//! a second event with the same id is rejected as a duplicate: ids are
//! remembered over the retention horizon, in bounded memory.
//!
//! It owns the table and its expiry; it knows nothing of the clock's rules
//! (admission passes "now") or of ids as text (the parser hashes them).
//!
//! **Layout.** One 64-bit word per id, in one of 64 open-addressing tables
//! (picked by the low 6 bits of the scrambled hash, so each grows on its
//! own and growth never copies more than 1/64 of the ids at once) of 2^k
//! words, each kept at most 7/8 full (8 B per slot, 9–18 B per id):
//!
//! ```text
//!  63                 23 22      16 15          0
//! | fresh bits + marker | distance |    stamp    |
//! ```
//!
//! - The id's 64-bit hash is first scrambled with a per-process seed (a
//!   bijection, so distinct hashes stay distinct; inputs crafted to collide
//!   in the table cannot be made without knowing it).
//! - Past the 6 bits of its table, its low k bits choose the *home* slot; they are not stored, because
//!   the position says them: Robin Hood linear probing keeps each entry's
//!   *distance* from home (7 bits) in the word, so home = slot − distance.
//! - The next hash bits (up to 40, the *fresh* bits) are stored above a
//!   marker bit that says how many there are. An entry therefore pins down
//!   6 + k + 40 bits of the hash (all 64 once its table has k ≥ 18).
//! - Doubling the table needs one more home bit per entry: it is the lowest
//!   fresh bit, which moves from the word into the position (the marker
//!   moves down one). So the bits that identify an entry never shrink.
//! - The stamp is the event time in *units* of 2^u ms, the smallest power
//!   of two that fits retention + the future guard into 8,192 units (16 s
//!   for the default 24 h + 1 h), modulo 2^16. Stamps are decoded against
//!   a base unit that the sweeps keep within 1,024 units of the horizon, so
//!   every stored stamp is within ±2^15 units of it and decodes exactly.
//!
//! **Expiry.** With horizon = now − retention, an entry is live while its
//! unit is not before the horizon's unit. So an id whose event is within
//! retention is always found; one whose event is older may be remembered
//! up to one unit longer, which only matters for an id reused with a new
//! time (an exact repeat of an old event is too late anyway). Expired
//! entries are dropped by sweeps (every 1,024 units of clock, and before
//! the table would grow), by Robin Hood back-shifting, so no tombstones
//! are left; an insert that meets one where it would displace it takes its
//! slot.
//!
//! **False duplicates.** A new id is reported as seen when some live entry
//! has its table, home and fresh bits. Entries inserted once the tables
//! have 2^18 slots (2^24 in all) hold the whole hash; earlier ones hold
//! 6 + k + 40 bits: as many as one table of all their slots would keep.
//! Summed over 10⁸ ids inserted into tables grown from 2^14 slots in all,
//! the expected number of false duplicates is below 1·10⁻³, of which ≈ 3·10⁻⁴ is the 64-bit
//! id hash itself (two distinct ids with one hash, which any 64-bit scheme
//! has).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::hash::mix64;
use crate::time::Millis;

/// An empty slot: every entry has its marker bit set, so none is 0.
const EMPTY: u64 = 0;
const STAMP_BITS: u32 = 16;
const DIST_BITS: u32 = 7;
const FIELD_SHIFT: u32 = STAMP_BITS + DIST_BITS;
/// The longest probe Robin Hood may make; an insert that needs more grows
/// the table (at 7/8 load, with a scrambled hash, probes are far shorter).
const MAX_DIST: u64 = (1 << DIST_BITS) - 1;
/// Fresh hash bits stored per entry when inserted (41 bits with the marker).
const FRESH_BITS: u32 = 64 - FIELD_SHIFT - 1;
/// The smallest part: 2^4 slots, 128 B (8 KiB for the whole history, so an
/// engine that sees few events costs little).
const MIN_BITS: u32 = 4;
/// Retention plus the future guard fit into at most this many stamp units.
const SPAN_UNITS: i64 = 8192;
/// The base is moved (with a sweep) once the horizon is this far from it.
const REBASE_UNITS: i64 = 1024;

/// Tables the history is split into, by the low bits of the scrambled
/// hash: each grows on its own, so a growing history never holds an old
/// and a new copy of more than 1/64 of its ids at once (one table would
/// briefly need 1.5 times its size at every doubling).
const PARTS: usize = 64;
/// Hash bits that pick the part.
const PART_BITS: u32 = PARTS.trailing_zeros();

/// See the module docs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SavedHistory")]
pub struct IdHistory {
    parts: Vec<Table>,
    /// Scrambles id hashes (see the module docs).
    seed: u64,
}

impl IdHistory {
    /// A history for ids within `retention_ms` of now, where admitted events
    /// are at most `ahead_ms` ahead of now (the future guard).
    pub fn new(retention_ms: Millis, ahead_ms: Millis) -> IdHistory {
        let seed = RandomState::new().hash_one(0x7a11_u64);
        IdHistory::with_seed(retention_ms, ahead_ms, seed)
    }

    /// [`IdHistory::new`] with a fixed scrambling seed (tests).
    pub fn with_seed(retention_ms: Millis, ahead_ms: Millis, seed: u64) -> IdHistory {
        let table = Table::new(retention_ms, ahead_ms);
        IdHistory {
            parts: vec![table; PARTS],
            seed,
        }
    }

    /// Ids remembered: live ones, plus expired ones not yet swept (at most
    /// 1,024 stamp units of them).
    pub fn len(&self) -> usize {
        self.parts.iter().map(|t| t.len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the tables take.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|t| t.slots.len()).sum::<usize>() * std::mem::size_of::<u64>()
    }

    /// The length of a stamp unit in ms: how much longer than retention an
    /// id may be remembered.
    pub fn unit_ms(&self) -> Millis {
        1 << self.parts[0].unit_shift
    }

    /// Whether `id` was inserted with a time after `now_ms − retention`
    /// (or up to one unit before it).
    pub fn contains(&mut self, id: u64, now_ms: Millis) -> bool {
        let h = self.scramble(id);
        self.parts[h as usize % PARTS].contains(h >> PART_BITS, now_ms)
    }

    /// Remembers `id`, admitted with event time `ts_ms` when the clock is
    /// `now_ms`. Call it only after [`IdHistory::contains`] said no: a
    /// second insert of a live id is not merged with the first.
    pub fn insert(&mut self, id: u64, ts_ms: Millis, now_ms: Millis) {
        let h = self.scramble(id);
        self.parts[h as usize % PARTS].insert(h >> PART_BITS, ts_ms, now_ms);
    }

    fn scramble(&self, id: u64) -> u64 {
        mix64(id ^ self.seed)
    }
}

/// One part of the history: a Robin Hood table of `(fresh bits, distance,
/// stamp)` words (see the module docs). It sees the scrambled hash without
/// the part's bits.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Table {
    #[serde(with = "crate::codec::words")]
    slots: Vec<u64>,
    /// log2 of the slot count.
    bits: u32,
    /// Occupied slots: live entries and expired ones not yet swept.
    len: usize,
    /// A stamp unit is `1 << unit_shift` ms.
    unit_shift: u32,
    retention_ms: Millis,
    /// The unit that stored stamps are decoded against.
    base: i64,
}

impl Table {
    fn new(retention_ms: Millis, ahead_ms: Millis) -> Table {
        let span = retention_ms.max(1).saturating_add(ahead_ms.max(0));
        let mut unit_shift = 0;
        while unit_shift < 62 && (span >> unit_shift) > SPAN_UNITS {
            unit_shift += 1;
        }
        Table {
            slots: vec![EMPTY; 1 << MIN_BITS],
            bits: MIN_BITS,
            len: 0,
            unit_shift,
            retention_ms,
            base: 0,
        }
    }

    /// Whether the id of hash `h` is live.
    fn contains(&mut self, h: u64, now_ms: Millis) -> bool {
        let horizon = self.advance(now_ms);
        let mask = self.mask();
        let rest = h >> self.bits;
        let mut pos = h as usize & mask;
        let mut dist = 0;
        loop {
            let w = self.slots[pos];
            if w == EMPTY || dist_of(w) < dist {
                return false;
            }
            if dist_of(w) == dist && fresh_matches(w, rest) && self.live(w, horizon) {
                return true;
            }
            pos = (pos + 1) & mask;
            dist += 1;
            if dist > MAX_DIST {
                return false;
            }
        }
    }

    /// Remembers the id of hash `h` (see [`IdHistory::insert`]).
    fn insert(&mut self, h: u64, ts_ms: Millis, now_ms: Millis) {
        let horizon = self.advance(now_ms);
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.sweep(horizon);
            if (self.len + 1) * 8 > self.slots.len() * 5 {
                self.grow(horizon, Vec::new());
            }
        }
        // Stamps stay decodable (see the module docs); a time beyond the
        // range admission allows is clamped, towards keeping it longer.
        let unit = (ts_ms >> self.unit_shift)
            .clamp(self.base - 4 * SPAN_UNITS, self.base + 3 * SPAN_UNITS);
        let stamp = unit as u16 as u64;
        let fresh = FRESH_BITS.min(64 - PART_BITS - self.bits);
        let field = (1 << fresh) | ((h >> self.bits) & ((1 << fresh) - 1));
        let entry = Carried {
            home: h as usize & self.mask(),
            field,
            stamp,
        };
        let mut overflow = Vec::new();
        self.place_counted(entry, horizon, &mut overflow);
        if !overflow.is_empty() {
            self.grow(horizon, overflow);
        }
    }

    /// The horizon unit for `now_ms`, sweeping first when it has moved too
    /// far from the base for stamps to decode.
    fn advance(&mut self, now_ms: Millis) -> i64 {
        let horizon = now_ms.saturating_sub(self.retention_ms) >> self.unit_shift;
        if self.len == 0 {
            self.base = horizon;
        } else if (horizon - self.base).abs() >= REBASE_UNITS {
            self.sweep(horizon);
        }
        horizon
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The full unit of an entry's stamp.
    fn unit_of(&self, w: u64) -> i64 {
        let stamp = w as u16;
        self.base + i64::from(stamp.wrapping_sub(self.base as u16) as i16)
    }

    fn live(&self, w: u64, horizon: i64) -> bool {
        self.unit_of(w) >= horizon
    }

    /// Robin Hood insertion of `entry`, overwriting an expired entry it
    /// would displace. On a probe longer than [`MAX_DIST`] it gives back the
    /// entry it holds at that point (the one asked for or one it displaced).
    fn place(&mut self, entry: Carried, horizon: i64) -> Placed {
        let mask = self.mask();
        let Carried {
            mut home,
            mut field,
            mut stamp,
        } = entry;
        let mut pos = home;
        let mut dist = 0;
        loop {
            let w = self.slots[pos];
            if w == EMPTY {
                self.slots[pos] = pack(field, dist, stamp);
                return Placed::New;
            }
            let d = dist_of(w);
            if d < dist {
                // An entry nearer its home than we are to ours: take its
                // slot. Later entries whose probe passes here need a
                // distance at least theirs at this slot; ours is larger.
                self.slots[pos] = pack(field, dist, stamp);
                if !self.live(w, horizon) {
                    return Placed::Replaced;
                }
                field = w >> FIELD_SHIFT;
                stamp = w & 0xffff;
                dist = d;
                home = pos.wrapping_sub(d as usize) & mask;
            }
            pos = (pos + 1) & mask;
            dist += 1;
            if dist > MAX_DIST {
                return Placed::Overflow(Carried { home, field, stamp });
            }
        }
    }

    /// Drops every expired entry in place, by back-shifting (no tombstones),
    /// and moves the base to `horizon`.
    fn sweep(&mut self, horizon: i64) {
        let mask = self.mask();
        // Start after an empty slot (the table is never full), so that no
        // probe run wraps around the start of the scan.
        let Some(start) = self.slots.iter().position(|&w| w == EMPTY) else {
            return;
        };
        let mut pos = (start + 1) & mask;
        let mut visited = 0;
        while visited < self.slots.len() {
            let w = self.slots[pos];
            if w != EMPTY && !self.live(w, horizon) {
                self.remove_at(pos);
                self.len -= 1;
                // An entry may have shifted into `pos`: look again.
                continue;
            }
            pos = (pos + 1) & mask;
            visited += 1;
        }
        self.base = horizon;
    }

    /// Removes the entry at `pos`, shifting the rest of its run back.
    fn remove_at(&mut self, mut pos: usize) {
        let mask = self.mask();
        loop {
            let next = (pos + 1) & mask;
            let w = self.slots[next];
            if w == EMPTY || dist_of(w) == 0 {
                self.slots[pos] = EMPTY;
                return;
            }
            self.slots[pos] = w - (1 << STAMP_BITS);
            pos = next;
        }
    }

    /// Doubles the table (again, in the unheard-of case that a probe is
    /// still too long), dropping expired entries on the way. `extra` are
    /// entries carried out of the current table, to be placed too.
    fn grow(&mut self, horizon: i64, mut extra: Vec<Carried>) {
        loop {
            let old_bits = self.bits;
            let old_mask = (1usize << old_bits) - 1;
            let old = std::mem::replace(&mut self.slots, vec![EMPTY; 1 << (old_bits + 1)]);
            self.bits = old_bits + 1;
            self.len = 0;
            let mut pending = Vec::new();
            for (pos, &w) in old.iter().enumerate() {
                if w == EMPTY || !self.live(w, horizon) {
                    continue;
                }
                let c = Carried {
                    home: pos.wrapping_sub(dist_of(w) as usize) & old_mask,
                    field: w >> FIELD_SHIFT,
                    stamp: w & 0xffff,
                };
                self.place_counted(split_home(c, old_bits), horizon, &mut pending);
            }
            drop(old);
            for c in extra.drain(..) {
                self.place_counted(split_home(c, old_bits), horizon, &mut pending);
            }
            if pending.is_empty() {
                return;
            }
            extra = pending;
        }
    }

    /// [`IdHistory::place`], counting what it adds and keeping what
    /// overflows.
    fn place_counted(&mut self, entry: Carried, horizon: i64, overflow: &mut Vec<Carried>) {
        match self.place(entry, horizon) {
            Placed::New => self.len += 1,
            Placed::Replaced => {}
            Placed::Overflow(c) => overflow.push(c),
        }
    }
}

/// An entry between slots: its home, fresh bits with marker, and stamp.
#[derive(Debug, Clone, Copy)]
struct Carried {
    home: usize,
    field: u64,
    stamp: u64,
}

enum Placed {
    New,
    /// Took the slot of an expired entry.
    Replaced,
    Overflow(Carried),
}

/// An entry of a 2^bits table, moved to the 2^(bits+1) table: its lowest
/// fresh bit becomes the top bit of its home. An entry with no fresh bit
/// left (it has been through 40 doublings, which takes a table of 2^50
/// slots) keeps its home.
fn split_home(c: Carried, bits: u32) -> Carried {
    if c.field <= 1 {
        return c;
    }
    Carried {
        home: c.home | ((c.field as usize & 1) << bits),
        field: c.field >> 1,
        stamp: c.stamp,
    }
}

fn pack(field: u64, dist: u64, stamp: u64) -> u64 {
    (field << FIELD_SHIFT) | (dist << STAMP_BITS) | stamp
}

fn dist_of(w: u64) -> u64 {
    (w >> STAMP_BITS) & MAX_DIST
}

/// Whether the entry's fresh bits are the low bits of `rest` (the hash
/// above the home bits).
fn fresh_matches(w: u64, rest: u64) -> bool {
    let field = w >> FIELD_SHIFT;
    let n = 63 - field.leading_zeros();
    let low = (1u64 << n) - 1;
    field & low == rest & low
}

/// A history as a checkpoint keeps it (every table slot for slot, and the
/// seed), checked on load: every part, each a whole power-of-two table.
#[derive(serde::Deserialize)]
struct SavedHistory {
    parts: Vec<Table>,
    seed: u64,
}

impl TryFrom<SavedHistory> for IdHistory {
    type Error = String;

    fn try_from(saved: SavedHistory) -> Result<IdHistory, String> {
        let whole = |t: &Table| {
            (MIN_BITS..48).contains(&t.bits)
                && t.slots.len() == 1 << t.bits
                && t.len <= t.slots.len()
                && t.unit_shift < 62
        };
        if saved.parts.len() != PARTS || !saved.parts.iter().all(whole) {
            return Err("an id history with damaged tables".into());
        }
        Ok(IdHistory {
            parts: saved.parts,
            seed: saved.seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    const T0: Millis = 1_736_899_200_000;
    const HOUR: Millis = 3_600_000;

    fn history() -> IdHistory {
        IdHistory::with_seed(24 * HOUR, HOUR, 0x5eed)
    }

    /// Distinct ids, spread like hashes.
    fn ids(n: u64, salt: u64) -> impl Iterator<Item = u64> {
        (0..n).map(move |i| mix64(i ^ (salt << 40)))
    }

    #[test]
    fn remembers_many_ids_and_grows() {
        let mut h = history();
        assert_eq!(h.bytes(), PARTS * (8 << MIN_BITS));
        for id in ids(300_000, 1) {
            assert!(!h.contains(id, T0));
            h.insert(id, T0, T0);
        }
        assert_eq!(h.len(), 300_000);
        // Each part the smallest power of two holding its share (≈ 4,700)
        // at most 7/8 full: 2^13 slots, 2^19 in all.
        assert_eq!(h.bytes(), 8 << 19);
        assert!(ids(300_000, 1).all(|id| h.contains(id, T0)));
        assert_eq!(ids(300_000, 2).filter(|&id| h.contains(id, T0)).count(), 0);
    }

    #[test]
    fn the_unit_fits_retention_and_the_guard_in_8192_units() {
        assert_eq!(history().unit_ms(), 16_384);
        assert_eq!(IdHistory::new(60_000, 0).unit_ms(), 8);
    }

    #[test]
    fn forgets_exactly_at_the_unit_after_the_horizon() {
        let mut h = history();
        let unit = h.unit_ms();
        // An event at the start of a unit and one at its end.
        let first = T0 - T0.rem_euclid(unit);
        let last = first + unit - 1;
        h.insert(1, first, last);
        h.insert(2, last, last);
        // Within retention: both remembered, at the last millisecond too.
        for now in [last, first + 24 * HOUR - 1] {
            assert!(h.contains(1, now), "{now}");
        }
        assert!(h.contains(2, last + 24 * HOUR - 1));
        // Event 1 is now exactly at the horizon (too late for admission)
        // but its unit is the horizon's: still remembered.
        assert!(h.contains(1, first + 24 * HOUR));
        // Up to the last millisecond of the horizon's unit, both are.
        let edge = first + 24 * HOUR + unit - 1;
        assert!(h.contains(1, edge) && h.contains(2, edge));
        // Once the horizon is in the next unit, both are forgotten (and
        // both are too late for admission).
        assert!(!h.contains(1, edge + 1));
        assert!(!h.contains(2, edge + 1));
    }

    #[test]
    fn sweeps_drop_expired_ids_and_a_jump_forgets_everything() {
        let mut h = history();
        for (i, id) in ids(5_000, 3).enumerate() {
            h.insert(id, T0 + i as Millis, T0 + i as Millis);
        }
        // 10 hours later (more than 1,024 units): a sweep, nothing expired.
        let later = T0 + 10 * HOUR;
        assert!(!h.contains(7, later));
        assert_eq!(h.len(), 5_000);
        // A confirmed jump of 400 days: everything expired and swept.
        let far = T0 + 400 * 24 * HOUR;
        assert!(ids(5_000, 3).all(|id| !h.contains(id, far)));
        assert_eq!(h.len(), 0);
        h.insert(9, far, far);
        assert!(h.contains(9, far + HOUR));
    }

    #[test]
    fn ids_on_one_home_slot_are_told_apart() {
        // Ids whose scrambled hashes share their low 14 bits: one part, and
        // one home in it until the part has 2^9 slots. 200 of them overflow
        // the longest probe, forcing that part to grow beyond its load.
        let h0 = history();
        let same: Vec<u64> = (0..u64::MAX)
            .filter(|&id| h0.scramble(id) & 0x3fff == 0x1234)
            .take(200)
            .collect();
        let mut h = h0.clone();
        for &id in &same {
            assert!(!h.contains(id, T0));
            h.insert(id, T0, T0);
        }
        assert_eq!(h.len(), 200);
        let part = &h.parts[0x1234 % PARTS];
        assert!(part.slots.len() >= 1 << 9, "{}", part.slots.len());
        assert!(same.iter().all(|&id| h.contains(id, T0)));
        // Different ids with the same home and other fresh bits.
        let others = (0..u64::MAX)
            .filter(|&id| h0.scramble(id) & 0x3fff == 0x1234 && !same.contains(&id))
            .take(200);
        for id in others {
            assert!(!h.contains(id, T0));
        }
    }

    #[test]
    fn an_expired_entry_in_the_way_is_overwritten() {
        let mut h = IdHistory::with_seed(60_000, 0, 1);
        let unit = h.unit_ms();
        for id in ids(800, 4) {
            h.insert(id, T0, T0);
        }
        // Retention later: all expired but not swept (within 1,024 units).
        let now = T0 + 60_000 + 2 * unit;
        for id in ids(800, 5) {
            assert!(!h.contains(id, now));
            h.insert(id, now, now);
        }
        assert!(h.len() <= 1_600);
        assert!(ids(800, 5).all(|id| h.contains(id, now)));
        assert!(ids(800, 4).all(|id| !h.contains(id, now)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Admit an event with this id (from a small pool, so ids repeat),
        /// this far behind now (relative to retention, 0..1000 ‰).
        Offer { id: u64, behind_permille: i64 },
        /// Move the clock.
        Advance(Millis),
        /// Admit this many new ids at now (the table grows).
        Burst(u64),
    }

    fn op(retention: Millis) -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..400u64, 0..1000i64)
                .prop_map(|(id, behind_permille)| Op::Offer { id, behind_permille }),
            3 => (0..retention / 20).prop_map(Op::Advance),
            1 => (0..retention * 3).prop_map(Op::Advance),
            1 => (0..800u64).prop_map(Op::Burst),
        ]
    }

    fn scenario() -> impl Strategy<Value = (Millis, Vec<Op>)> {
        prop_oneof![Just(60_000), Just(HOUR), Just(24 * HOUR)]
            .prop_flat_map(|r| (Just(r), proptest::collection::vec(op(r), 1..1000)))
    }

    proptest! {
        /// Against a map of id → time: an id whose time is within retention
        /// is always found; one whose unit is before the horizon's never is.
        #[test]
        fn agrees_with_a_map((retention, ops) in scenario(), seed in any::<u64>()) {
            let mut h = IdHistory::with_seed(retention, HOUR, seed);
            let unit = h.unit_ms();
            let mut model: HashMap<u64, Millis> = HashMap::new();
            let mut now = T0;
            let mut fresh = 1 << 40;
            for op in ops {
                match op {
                    Op::Advance(d) => now += d,
                    Op::Burst(n) => {
                        for _ in 0..n {
                            fresh += 1;
                            prop_assert!(!h.contains(fresh, now));
                            h.insert(fresh, now, now);
                            model.insert(fresh, now);
                        }
                    }
                    Op::Offer { id, behind_permille } => {
                        let ts = now - retention * behind_permille / 1000;
                        let horizon = now - retention;
                        let found = h.contains(id, now);
                        match model.get(&id) {
                            Some(&t) if t > horizon => prop_assert!(found, "{id} at {t}"),
                            Some(&t) if t.div_euclid(unit) < horizon.div_euclid(unit) => {
                                prop_assert!(!found, "{id} at {t} is expired")
                            }
                            None => prop_assert!(!found, "{id} never seen"),
                            Some(_) => {}
                        }
                        if !found {
                            h.insert(id, ts, now);
                            model.insert(id, ts);
                        }
                    }
                }
            }
            let live = model.values().filter(|&&t| t > now - retention).count();
            prop_assert!(h.len() >= live);
        }
    }
}
