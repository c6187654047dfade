//! Pacing: a fixed schedule of intended times, and waiting for them.
//!
//! Coordinated omission (Gil Tene; wrk2 corrects it this way): a load
//! generator that waits for each answer before sending the next stops
//! sending while the system stalls, so the stall shows as one slow sample
//! instead of the many requests a real client would have sent meanwhile.
//! Here every operation has an *intended* start on a fixed schedule, and
//! latency is measured from that time, not from when the (possibly
//! late) driver actually started it.

use std::time::{Duration, Instant};

/// How long before a deadline we stop sleeping and spin: `thread::sleep`
/// can overshoot by tens of µs, which would be charged to the engine.
const SPIN: Duration = Duration::from_micros(150);

/// Operations at a fixed rate from a start instant: the `i`-th is due at
/// `start + i / rate`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub per_second: f64,
}

impl Schedule {
    pub fn new(start: Instant, per_second: f64) -> Schedule {
        Schedule { start, per_second }
    }

    /// When operation `i` is due.
    pub fn due(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.per_second)
    }

    /// How many operations are due at `now` (indices `0..n`).
    pub fn due_by(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        (elapsed * self.per_second).floor() as u64 + 1
    }
}

/// Waits until `deadline`: sleeps, then spins the last [`SPIN`] when
/// `precise` (a query's start must not be late because of the harness).
pub fn wait_until(deadline: Instant, precise: bool) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        } else if precise {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_arithmetic() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 200.0);
        assert_eq!(s.due(0), t0);
        assert_eq!(s.due(200), t0 + Duration::from_secs(1));
        assert_eq!(s.due_by(t0), 1);
        assert_eq!(s.due_by(t0 + Duration::from_millis(11)), 3);
        assert_eq!(s.due_by(t0 + Duration::from_millis(9)), 2);
    }
}
