//! `GET /hits`: rule hits as Server-Sent Events.
//!
//! The engine calls its hit listener on the owner thread as each batch's
//! hits are delivered; the listener hands every hit, as one `data:` line of
//! JSON, to each subscribed stream. A subscriber's buffer is bounded
//! ([`BUFFERED_HITS`]): a client that reads too slowly loses hits (counted
//! in `tally_hits_dropped_total`) rather than growing the server's memory
//! or slowing ingest. When the server stops, every stream is ended so that
//! the drain does not wait on them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use actix_web::web::Bytes;
use futures::channel::mpsc;

use crate::rules::Hit;

/// Hits buffered per subscriber before its next hits are dropped.
const BUFFERED_HITS: usize = 1024;

/// The subscribers of `/hits`.
#[derive(Default)]
pub(super) struct HitHub {
    /// `None` once closed: the server is stopping and takes no one new.
    subscribers: Mutex<Option<Vec<mpsc::Sender<Bytes>>>>,
    /// Hits a slow subscriber did not get.
    pub dropped: AtomicU64,
    /// Hits published since start.
    pub published: AtomicU64,
}

impl HitHub {
    pub(super) fn new() -> HitHub {
        HitHub {
            subscribers: Mutex::new(Some(Vec::new())),
            ..HitHub::default()
        }
    }

    /// A new stream of every hit from now on; `None` when stopping.
    pub(super) fn subscribe(&self) -> Option<mpsc::Receiver<Bytes>> {
        let (mut tx, rx) = mpsc::channel(BUFFERED_HITS);
        // The first event says the stream is open (and flushes the headers).
        let _ = tx.try_send(Bytes::from_static(b": tally rule hits\n\n"));
        let mut subscribers = self.subscribers.lock().ok()?;
        subscribers.as_mut()?.push(tx);
        Some(rx)
    }

    /// Sends one hit to every subscriber; forgets those that went away.
    pub(super) fn publish(&self, hit: &Hit) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let Ok(mut subscribers) = self.subscribers.lock() else {
            return;
        };
        let Some(list) = subscribers.as_mut() else {
            return;
        };
        if list.is_empty() {
            return;
        }
        let event = Bytes::from(format!("data: {}\n\n", hit.to_json()));
        list.retain_mut(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(e) if e.is_full() => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        });
    }

    /// Ends every stream and takes no new subscriber.
    pub(super) fn close(&self) {
        if let Ok(mut subscribers) = self.subscribers.lock() {
            *subscribers = None;
        }
    }

    /// Streams open now.
    pub(super) fn subscribers(&self) -> usize {
        self.subscribers
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(Vec::len))
            .unwrap_or(0)
    }
}
