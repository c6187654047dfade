//! The bounded queue in front of the engine owner: permits taken before a
//! request body is read, given back when the owner has done the job.
//!
//! The channel itself ([`std::sync::mpsc`]) has no bound; the permits are
//! the bound. A request takes its permit *before* it reads its body, so
//! under any load at most `capacity` bodies (each at most `--max-body`)
//! are in memory, whatever the number of connections: a request that finds
//! no permit is answered `503` with `Retry-After` at once.
//!
//! Two lanes share the one FIFO channel, so every job keeps its place in
//! line: the *work* lane (event batches and queries, `capacity` permits)
//! and a small *control* lane (metrics scrapes), so that a full work lane
//! still lets a scrape through.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

/// Permits of the control lane: scrapes are small and few.
const CONTROL_PERMITS: usize = 4;

/// Which permits a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    /// Event batches and queries: `--queue` permits.
    Work,
    /// Metrics: [`CONTROL_PERMITS`] permits of their own.
    Control,
}

/// The sending side, shared by every HTTP worker.
pub(super) struct Queue<J> {
    sender: Sender<(J, Permit)>,
    work: Arc<Slots>,
    control: Arc<Slots>,
}

/// A count of taken permits against a fixed capacity.
pub(super) struct Slots {
    taken: AtomicUsize,
    capacity: usize,
}

/// One taken permit; dropping it gives it back.
pub(super) struct Permit(Arc<Slots>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    fn new(capacity: usize) -> Arc<Slots> {
        Arc::new(Slots {
            taken: AtomicUsize::new(0),
            capacity,
        })
    }

    /// Takes a permit if one is free.
    fn try_take(self: &Arc<Slots>) -> Option<Permit> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.clone()))
    }
}

impl<J> Queue<J> {
    /// A queue of `capacity` work permits (at least 1) and its receiving
    /// end, for the owner.
    pub(super) fn new(capacity: usize) -> (Queue<J>, Receiver<(J, Permit)>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        let queue = Queue {
            sender,
            work: Slots::new(capacity.max(1)),
            control: Slots::new(CONTROL_PERMITS),
        };
        (queue, receiver)
    }

    /// A permit of `lane`, or `None` when the lane is full.
    pub(super) fn try_permit(&self, lane: Lane) -> Option<Permit> {
        match lane {
            Lane::Work => self.work.try_take(),
            Lane::Control => self.control.try_take(),
        }
    }

    /// Hands a job to the owner. `false` when the owner is gone (stopping).
    pub(super) fn send(&self, job: J, permit: Permit) -> bool {
        self.sender.send((job, permit)).is_ok()
    }

    /// Hands the owner a job even when every lane is full (the stop,
    /// queued behind every other job).
    pub(super) fn send_regardless(&self, job: J) {
        self.control.taken.fetch_add(1, Ordering::AcqRel);
        let _ = self.sender.send((job, Permit(self.control.clone())));
    }

    /// Work permits taken: jobs queued or running, bodies being read.
    pub(super) fn depth(&self) -> usize {
        self.work.taken.load(Ordering::Acquire)
    }

    pub(super) fn capacity(&self) -> usize {
        self.work.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_run_out_at_capacity_and_come_back_when_dropped() {
        let (queue, _rx) = Queue::<()>::new(2);
        let a = queue.try_permit(Lane::Work).expect("first");
        let _b = queue.try_permit(Lane::Work).expect("second");
        assert!(queue.try_permit(Lane::Work).is_none());
        assert_eq!(queue.depth(), 2);
        // The control lane is apart.
        assert!(queue.try_permit(Lane::Control).is_some());
        drop(a);
        assert_eq!(queue.depth(), 1);
        assert!(queue.try_permit(Lane::Work).is_some());
    }
}
