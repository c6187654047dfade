//! Time: event timestamps and window durations, both in milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDateTime};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Which clock defines "now" for windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// Now is the largest event time accepted so far (replays are exact).
    #[default]
    Event,
    /// Now is the system clock (for live services).
    Wall,
}

/// The system clock in epoch milliseconds.
pub fn wall_clock_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Epoch numbers at or above this are milliseconds, below it seconds.
/// 10^11 s is the year 5138; 10^11 ms is March 1973.
const MILLIS_THRESHOLD: f64 = 1e11;

/// The first millisecond of 0001-01-01 UTC: the earliest event time.
pub const MIN_TIME_MS: Millis = -62_135_596_800_000;
/// The last millisecond of 9999-12-31 UTC: the latest event time.
pub const MAX_TIME_MS: Millis = 253_402_300_799_999;

/// Event times lie in the years 0001 to 9999: the years RFC 3339 writes
/// with four digits, in which the text of a time sorts as the time does
/// (`-0001-...` and `+10000-...` would not), so raw rows and time buckets
/// ordered by their printed time are in time order.
fn in_range(ms: Millis) -> Option<Millis> {
    (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms).then_some(ms)
}

/// Parses a timestamp string: RFC 3339 with `Z` or an offset, or naive ISO
/// 8601 (`2025-06-12T08:08:53.889057`, also with a space), read as UTC;
/// `None` outside the years 0001 to 9999.
pub fn parse_timestamp_str(s: &str) -> Option<Millis> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return in_range(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return in_range(t.and_utc().timestamp_millis());
        }
    }
    // Epoch numbers sent as strings.
    s.parse::<f64>().ok().and_then(parse_timestamp_number)
}

/// Parses an epoch number: seconds (possibly fractional) or milliseconds,
/// up to the end of the year 9999.
pub fn parse_timestamp_number(n: f64) -> Option<Millis> {
    if !n.is_finite() || !(0.0..=1e15).contains(&n) {
        return None;
    }
    if n >= MILLIS_THRESHOLD {
        in_range(n as Millis)
    } else {
        in_range((n * 1000.0).round() as Millis)
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn format_timestamp(ms: Millis) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Parses a duration such as `90s`, `5m`, `1h`, `2d`, `1 hour`, `30 minutes`.
/// The number must be a positive integer.
pub fn parse_duration(text: &str) -> Result<Millis> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        Error::InvalidInput(format!(
            "invalid duration '{text}': expected a positive whole number and a unit, \
             like 90s, 5m, 1h or 2d"
        ))
    };
    let too_large = || {
        Error::InvalidInput(format!(
            "invalid duration '{text}': too large; a duration is at most about 292 million years"
        ))
    };
    let unit_ms = unit_millis(unit.trim()).ok_or_else(bad)?;
    let n: i64 = match number.parse() {
        Ok(n) => n,
        // Only digits, yet no i64: a whole number, too large.
        Err(_) if !number.is_empty() => return Err(too_large()),
        Err(_) => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    n.checked_mul(unit_ms).ok_or_else(too_large)
}

/// Parses a duration that may also be zero (`0`, `0s`): for settings where
/// zero means "none", like the generator's disorder. Anything else must
/// parse as [`parse_duration`] does.
pub fn parse_duration_or_zero(text: &str) -> Result<Millis> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let unit = unit.trim();
    if !number.is_empty()
        && number.bytes().all(|b| b == b'0')
        && (unit.is_empty() || unit_millis(unit).is_some())
    {
        return Ok(0);
    }
    parse_duration(text).map_err(|_| {
        Error::InvalidInput(format!(
            "invalid duration '{t}': expected 0 or a whole number and a unit, \
             like 90s, 5m, 1h or 2d"
        ))
    })
}

/// [`parse_duration`] as a [`Duration`], for command-line flags.
pub fn parse_flag_duration(text: &str) -> Result<Duration> {
    parse_duration(text).map(|ms| Duration::from_millis(ms as u64))
}

/// [`parse_duration_or_zero`] as a [`Duration`], for command-line flags.
pub fn parse_flag_duration_or_zero(text: &str) -> Result<Duration> {
    parse_duration_or_zero(text).map(|ms| Duration::from_millis(ms as u64))
}

/// Milliseconds in one of the duration units, or `None`.
pub fn unit_millis(unit: &str) -> Option<Millis> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    })
}

/// Formats a duration compactly for messages and EXPLAIN: `1h`, `90s`, `2d`.
pub fn format_duration(ms: Millis) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        // A day reads better as 24h; days start at 2d.
        let big_enough = if unit == "d" {
            ms >= 2 * size
        } else {
            ms >= size
        };
        if big_enough && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_time_format_of_the_spec() {
        let t = 1_736_951_445_123; // 2025-01-15T14:30:45.123Z
        assert_eq!(parse_timestamp_str("2025-01-15T14:30:45.123Z"), Some(t));
        assert_eq!(
            parse_timestamp_str("2025-01-15T15:30:45.123+01:00"),
            Some(t)
        );
        assert_eq!(parse_timestamp_str("2025-01-15T14:30:45.123"), Some(t));
        assert_eq!(parse_timestamp_str("2025-01-15 14:30:45.123"), Some(t));
        assert_eq!(parse_timestamp_number(1_736_951_445.123), Some(t));
        assert_eq!(parse_timestamp_number(t as f64), Some(t));
        assert_eq!(parse_timestamp_str("1736951445123"), Some(t));
        assert_eq!(parse_timestamp_str("yesterday"), None);
        assert_eq!(parse_timestamp_number(f64::NAN), None);
        assert_eq!(parse_timestamp_number(-1.0), None);
        assert_eq!(format_timestamp(t), "2025-01-15T14:30:45.123Z");
    }

    #[test]
    fn overflowing_durations_are_too_large_not_malformed() {
        for text in ["1000000000000d", "99999999999999999999s"] {
            let e = parse_duration(text).unwrap_err().to_string();
            assert!(e.contains("too large"), "{text}: {e}");
        }
        let e = parse_duration("1.5h").unwrap_err().to_string();
        assert!(e.contains("positive whole number"), "{e}");
    }

    #[test]
    fn item_14_times_lie_in_the_years_that_sort_as_text() {
        assert_eq!(
            parse_timestamp_str("0001-01-01T00:00:00Z"),
            Some(MIN_TIME_MS)
        );
        assert_eq!(
            parse_timestamp_str("9999-12-31T23:59:59.999Z"),
            Some(MAX_TIME_MS)
        );
        for outside in [
            "-0001-06-01T00:00:00",
            "0000-12-31T23:59:59Z",
            "+10000-01-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
        ] {
            assert_eq!(parse_timestamp_str(outside), None, "{outside}");
        }
        assert_eq!(
            parse_timestamp_number(999_999_999_999_999.0),
            None,
            "year 33658"
        );
        assert_eq!(
            parse_timestamp_number(MAX_TIME_MS as f64),
            Some(MAX_TIME_MS)
        );
        // Inside the range, text order is time order.
        let texts = [
            "0001-01-01T00:00:00Z",
            "0999-05-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "9999-01-01T00:00:00Z",
        ];
        let times: Vec<Millis> = texts
            .iter()
            .map(|t| parse_timestamp_str(t).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        let printed: Vec<String> = times.iter().map(|&t| format_timestamp(t)).collect();
        let mut sorted = printed.clone();
        sorted.sort();
        assert_eq!(printed, sorted);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90_000);
        assert_eq!(parse_duration("1 hour").unwrap(), 3_600_000);
        assert_eq!(parse_duration("2d").unwrap(), 172_800_000);
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(format_duration(3_600_000), "1h");
        assert_eq!(format_duration(90_000), "90s");
        assert_eq!(format_duration(86_400_000), "24h");
        assert_eq!(format_duration(172_800_000), "2d");
    }

    #[test]
    fn zero_durations_only_where_asked_for() {
        for zero in ["0", "0s", "00m", "0 hours"] {
            assert_eq!(parse_duration_or_zero(zero).unwrap(), 0, "{zero}");
            assert!(parse_duration(zero).is_err(), "{zero}");
        }
        assert_eq!(parse_duration_or_zero("5m").unwrap(), 300_000);
        for bad in ["abc", "", "0x", "s", "-1s", "1.5s"] {
            assert!(parse_duration_or_zero(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_flag_duration("2s").unwrap(), Duration::from_secs(2));
    }
}
