//! Numbers and timestamps written straight into a line, digit by digit:
//! the generator's hot path formats millions of them, so it skips the
//! formatting machinery of `std::fmt` and chrono while producing the same
//! text (the tests compare with `crate::time`).
//!
//! Only the shapes the presets need: unsigned integers, fixed-point
//! decimals that always read as floats, RFC 3339 UTC with or without
//! milliseconds, and naive ISO with microseconds. What goes where in a line
//! is [`super::formats`]' job.

use crate::time::Millis;

/// Appends an unsigned integer in decimal.
pub(super) fn push_u64(buf: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
    }
}

/// Appends `n` zero-padded to `width` digits.
fn push_padded(buf: &mut String, n: u64, width: u32) {
    let mut div = 10u64.pow(width.saturating_sub(1));
    while div > 0 {
        buf.push(char::from(b'0' + (n / div % 10) as u8));
        div /= 10;
    }
}

/// Appends `scaled / 10^decimals` as a JSON number that always reads as a
/// float: trailing zeros dropped but one decimal kept (`129.5`, `12.0`).
pub(super) fn push_decimal(buf: &mut String, scaled: i64, decimals: u32) {
    if scaled < 0 {
        buf.push('-');
    }
    let scaled = scaled.unsigned_abs();
    let unit = 10u64.pow(decimals);
    push_u64(buf, scaled / unit);
    buf.push('.');
    let mut frac = scaled % unit;
    let mut width = decimals;
    while width > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    push_padded(buf, frac, width);
}

/// Days since the epoch to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `YYYY-MM-DDTHH:MM:SS.` and the first `frac_digits` digits of the
/// fraction of a second, for a time in microseconds (0 ≤ t < year 10000,
/// as the config validates).
fn push_date_time(buf: &mut String, micros: i64, frac_digits: u32) {
    let secs = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400) as u64;
    push_padded(buf, year.max(0) as u64, 4);
    buf.push('-');
    push_padded(buf, month, 2);
    buf.push('-');
    push_padded(buf, day, 2);
    buf.push('T');
    push_padded(buf, of_day / 3600, 2);
    buf.push(':');
    push_padded(buf, of_day / 60 % 60, 2);
    buf.push(':');
    push_padded(buf, of_day % 60, 2);
    if frac_digits > 0 {
        let frac = micros.rem_euclid(1_000_000) as u64 / 10u64.pow(6 - frac_digits);
        buf.push('.');
        push_padded(buf, frac, frac_digits);
    }
}

/// RFC 3339 UTC: `2025-01-15T14:30:45.123Z` with millis, else `...45Z`.
pub(super) fn push_rfc3339(buf: &mut String, ms: Millis, with_millis: bool) {
    push_date_time(buf, ms * 1000, if with_millis { 3 } else { 0 });
    buf.push('Z');
}

/// Naive ISO with microseconds, read as UTC: `2025-06-12T08:08:53.889057`.
pub(super) fn push_naive_micros(buf: &mut String, micros: i64) {
    push_date_time(buf, micros, 6);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::DEFAULT_START_MS;

    #[test]
    fn formatting_matches_chrono() {
        for ms in [
            0,
            DEFAULT_START_MS,
            1_736_951_445_123,
            951_782_400_000,
            4_102_444_799_999,
        ] {
            let mut buf = String::new();
            push_rfc3339(&mut buf, ms, true);
            assert_eq!(buf, crate::time::format_timestamp(ms));
        }
        let mut buf = String::new();
        push_naive_micros(&mut buf, 1_749_715_733_889_057);
        assert_eq!(buf, "2025-06-12T08:08:53.889057");
        let mut buf = String::new();
        push_rfc3339(&mut buf, 1_736_951_445_123, false);
        assert_eq!(buf, "2025-01-15T14:30:45Z");
        let decimal = |n, d| {
            let mut b = String::new();
            push_decimal(&mut b, n, d);
            b
        };
        assert_eq!(decimal(12_950, 2), "129.5");
        assert_eq!(decimal(1_200, 2), "12.0");
        assert_eq!(decimal(1_234, 2), "12.34");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(35, 1), "3.5");
    }
}
