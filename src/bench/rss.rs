//! Resident memory of this process, read from `/proc/self/status`.
//!
//! `VmRSS` is what is resident now; `VmHWM` the peak ("high water mark")
//! since the process started, or since [`Rss::reset_peak`] (writing `5` to
//! `/proc/self/clear_refs`, Linux 4.0+), which the benches call before the
//! measured part so that preparing the input does not count. Both count pages the allocator holds, in use
//! or not: freed memory that malloc keeps for reuse still counts, which is
//! what a user sees in `top`. Off Linux there is no such file and the
//! benches print "n/a".

/// Resident memory now and at peak, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rss {
    pub current: u64,
    pub peak: u64,
}

impl Rss {
    /// Reads `/proc/self/status`; `None` when it is not there or unreadable.
    pub fn now() -> Option<Rss> {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        Some(Rss {
            current: field_bytes(&text, "VmRSS:")?,
            peak: field_bytes(&text, "VmHWM:")?,
        })
    }
}

impl Rss {
    /// Resets the peak to the current RSS; false when the kernel does not
    /// allow it (the peak then covers the whole process).
    pub fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }
}

/// A `Name:   1234 kB` line of `/proc/self/status`, in bytes.
fn field_bytes(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    let mut parts = line[name.len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => Some(n * 1024),
        _ => None,
    }
}

/// Bytes as MiB with one decimal, or "n/a".
pub fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

/// A report's `RSS` fact: resident memory before and after `phase`, and
/// the peak — during the phase when the peak could be reset, else of the
/// whole process. `before_note` follows the "before" figure.
pub fn describe(
    before: Option<Rss>,
    after: Option<Rss>,
    peak_reset: bool,
    phase: &str,
    before_note: &str,
) -> String {
    let peak = match peak_reset {
        true => format!("during {phase}"),
        false => "of the process".into(),
    };
    format!(
        "{} before {phase}{before_note}, {} after, {} peak {peak}",
        mib(before.map(|r| r.current)),
        mib(after.map(|r| r.current)),
        mib(after.map(|r| r.peak)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\ttally\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(field_bytes(status, "VmRSS:"), Some(1024 * 1024));
        assert_eq!(field_bytes(status, "VmHWM:"), Some(2048 * 1024));
        assert_eq!(field_bytes(status, "VmSwap:"), None);
        assert_eq!(field_bytes("VmRSS: 12 MB\n", "VmRSS:"), None);
        assert_eq!(mib(Some(3 * 1048576 / 2)), "1.5 MiB");
        assert_eq!(mib(None), "n/a");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let rss = Rss::now().unwrap();
        assert!(rss.current > 0 && rss.peak >= rss.current);
        // Other tests allocate on other threads meanwhile, so the peak after
        // a reset can only be checked against the reading itself.
        if Rss::reset_peak() {
            let after = Rss::now().unwrap();
            assert!(after.peak >= after.current && after.current > 0);
        }
    }
}
