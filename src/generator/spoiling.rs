//! What makes a generated stream realistic rather than clean: lines that
//! repeat a recent one verbatim ([`Recent`]), lines a reader must reject
//! ([`spoil`]), and event times moved back out of order ([`disorder`]).
//!
//! Every spoiled line is well-formed first ([`super::formats`] writes it),
//! then changed here, so a bad line looks like a real one gone wrong: cut
//! short, a field of the wrong JSON type, a required field missing, or
//! nothing like JSON at all. How often each happens is the config's.

use super::formats::Preset;
use super::rng::Rng;

/// How many recent good lines a duplicate may repeat: about 10 s of a 2 M/day
/// stream, well inside any de-duplication horizon.
const RECENT: usize = 256;

/// A ring of recent good lines that duplicates repeat, reusing its buffers.
#[derive(Debug, Clone, Default)]
pub(super) struct Recent {
    lines: Vec<String>,
    /// The slot the next line overwrites once the ring is full.
    next: usize,
}

impl Recent {
    /// Keeps `line` for later duplicates.
    pub(super) fn remember(&mut self, line: &str) {
        if self.lines.len() < RECENT {
            self.lines.push(line.to_string());
        } else {
            let old = &mut self.lines[self.next];
            old.clear();
            old.push_str(line);
            self.next = (self.next + 1) % RECENT;
        }
    }

    /// A recent line to repeat, or `None` (and no draw) before the first.
    pub(super) fn repeat(&self, rng: &mut Rng) -> Option<&str> {
        if self.lines.is_empty() {
            return None;
        }
        Some(rng.choose(&self.lines).as_str())
    }
}

/// An event time in microseconds moved back by up to `disorder_ms` (never
/// before the epoch); no draw when there is no disorder.
pub(super) fn disorder(micros: i64, disorder_ms: i64, rng: &mut Rng) -> i64 {
    if disorder_ms <= 0 {
        return micros;
    }
    let jitter = rng.below(disorder_ms as u64 * 1000 + 1) as i64;
    (micros - jitter).max(0)
}

/// The kinds of bad line, picked uniformly.
#[derive(Debug, Clone, Copy)]
enum BadKind {
    Truncated,
    WrongType,
    MissingField,
    Empty,
    Garbage,
}

const BAD_KINDS: [BadKind; 5] = [
    BadKind::Truncated,
    BadKind::WrongType,
    BadKind::MissingField,
    BadKind::Empty,
    BadKind::Garbage,
];

/// How a wrong-type bad line changes its field.
#[derive(Debug, Clone, Copy)]
enum Retype {
    /// A number becomes a string: `"user_id":"987654321"`.
    Quote,
    /// A string becomes a number: `"user":"user8"` → `"user":8`.
    Unquote,
}

/// The top-level field a wrong-type bad line spoils, and how.
fn wrong_type_field(preset: Preset) -> (&'static str, Retype) {
    match preset {
        Preset::Reels => ("user_id", Retype::Quote),
        Preset::Shop => ("customer_id", Retype::Quote),
        Preset::Clicks => ("user", Retype::Unquote),
        Preset::Stats | Preset::Ledger => ("value", Retype::Quote),
    }
}

/// Required top-level fields a missing-field bad line may drop. The order
/// is part of the stream (a draw picks by position).
fn required_fields(preset: Preset) -> &'static [&'static str] {
    match preset {
        Preset::Reels => &["user_id", "video_id", "event_type", "timestamp", "event_id"],
        Preset::Shop => &["event", "item_id", "customer_id", "timestamp"],
        Preset::Clicks => &["id", "user", "type", "ts"],
        Preset::Stats => &["value", "timestamp"],
        Preset::Ledger => &["category", "value"],
    }
}

/// Turns the well-formed line of `preset` in `line` into one a reader must
/// reject.
pub(super) fn spoil(line: &mut String, preset: Preset, rng: &mut Rng) {
    match *rng.choose(&BAD_KINDS) {
        BadKind::Truncated => {
            // Any proper prefix of an object lacks its closing brace.
            let cut = 1 + rng.below(line.len().saturating_sub(1) as u64) as usize;
            line.truncate(cut);
        }
        BadKind::WrongType => {
            let (field, how) = wrong_type_field(preset);
            retype_field(line, field, how);
        }
        BadKind::MissingField => {
            let field = *rng.choose(required_fields(preset));
            remove_field(line, field);
        }
        BadKind::Empty => line.clear(),
        BadKind::Garbage => {
            // A control character first, so it is never valid JSON; then
            // printable noise and a few non-ASCII characters.
            line.clear();
            line.push('\u{1}');
            for _ in 0..1 + rng.below(40) {
                let c = match rng.below(10) {
                    0 => 'ÿ',
                    1 => '\u{fffd}',
                    _ => char::from(b' ' + rng.below(95) as u8),
                };
                line.push(c);
            }
        }
    }
}

/// Where top-level `"field":value` sits in a line we wrote (scalar values,
/// no escapes): the start of the key, and the start and end of the value;
/// `None` if absent.
fn field_value(line: &str, field: &str) -> Option<(usize, usize, usize)> {
    let key = format!("\"{field}\":");
    let key_start = line.find(&key)?;
    let start = key_start + key.len();
    let rest = &line[start..];
    let len = if let Some(body) = rest.strip_prefix('"') {
        body.find('"')? + 2
    } else {
        rest.find([',', '}'])?
    };
    Some((key_start, start, start + len))
}

/// Changes the JSON type of a field's value (see [`Retype`]).
fn retype_field(line: &mut String, field: &str, how: Retype) {
    let Some((_, start, end)) = field_value(line, field) else {
        return;
    };
    let value = line[start..end].to_string();
    let retyped = match how {
        Retype::Quote => format!("\"{value}\""),
        Retype::Unquote => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                "0".to_string()
            } else {
                digits
            }
        }
    };
    line.replace_range(start..end, &retyped);
}

/// Removes `"field":value` and one neighbouring comma.
fn remove_field(line: &mut String, field: &str) {
    let Some((key_start, _, end)) = field_value(line, field) else {
        return;
    };
    if line[end..].starts_with(',') {
        line.replace_range(key_start..end + 1, "");
    } else if line[..key_start].ends_with(',') {
        line.replace_range(key_start - 1..end, "");
    } else {
        line.replace_range(key_start..end, "");
    }
}

#[cfg(test)]
mod tests {
    use super::super::popularity::Actors;
    use super::*;
    use serde_json::Value as Json;

    #[test]
    fn fields_are_retyped_and_removed_in_place() {
        let line = r#"{"id":3,"user":"user8","value":1.5}"#;
        let edited = |f: &dyn Fn(&mut String)| {
            let mut l = line.to_string();
            f(&mut l);
            l
        };
        assert_eq!(
            edited(&|l| retype_field(l, "id", Retype::Quote)),
            r#"{"id":"3","user":"user8","value":1.5}"#
        );
        assert_eq!(
            edited(&|l| retype_field(l, "user", Retype::Unquote)),
            r#"{"id":3,"user":8,"value":1.5}"#
        );
        assert_eq!(
            edited(&|l| remove_field(l, "id")),
            r#"{"user":"user8","value":1.5}"#
        );
        assert_eq!(
            edited(&|l| remove_field(l, "value")),
            r#"{"id":3,"user":"user8"}"#
        );
        assert_eq!(edited(&|l| remove_field(l, "absent")), line);
    }

    #[test]
    fn recent_lines_wrap_around_and_disorder_only_moves_back() {
        let mut rng = Rng::new(1);
        let mut recent = Recent::default();
        assert_eq!(recent.repeat(&mut rng), None);
        for i in 0..RECENT + 10 {
            recent.remember(&i.to_string());
        }
        assert_eq!(recent.lines.len(), RECENT);
        assert_eq!(recent.lines[0], RECENT.to_string(), "the oldest went first");
        assert!(recent.repeat(&mut rng).is_some());
        assert_eq!(disorder(5_000, 0, &mut rng), 5_000);
        for _ in 0..1_000 {
            let t = disorder(5_000_000, 2, &mut rng);
            assert!((3_000_000..=5_000_000).contains(&t));
        }
        assert!(disorder(10, 1_000, &mut rng) >= 0, "never before the epoch");
    }

    #[test]
    fn bad_lines_mix_every_kind() {
        let actors = Actors::new(10_000, 1_000, 1.1);
        let mut rng = Rng::new(42);
        let all: Vec<String> = (1..=500)
            .map(|sequence| {
                let mut line = String::new();
                let micros = 1_736_899_200_000_000 + sequence as i64 * 1_000_000;
                Preset::Reels.write(&mut line, &actors, &mut rng, sequence, micros);
                spoil(&mut line, Preset::Reels, &mut rng);
                line
            })
            .collect();
        assert!(all.iter().any(String::is_empty));
        assert!(all.iter().any(|l| l.starts_with('\u{1}')));
        assert!(all.iter().any(|l| l.contains("\"user_id\":\"")));
        let objects: Vec<Json> = all
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert!(objects.iter().any(|v| v.get("user_id").is_none()));
        assert!(all
            .iter()
            .any(|l| l.starts_with('{') && serde_json::from_str::<Json>(l).is_err()));
    }
}
