//! The wait registry: who is waiting for the outcome of which (session, xid).

use crate::sink::Sink;
use crate::tree::Applied;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// Someone waiting for an entry's outcome.
#[derive(Debug)]
pub enum Waiter {
    /// A connection with a write slot queued: gets the encoded reply.
    Conn {
        sink: Arc<Sink>,
        started: Instant,
        op: &'static str,
    },
    /// A task (e.g. the handshake awaiting createSession): gets the zxid and outcome.
    Task(oneshot::Sender<(i64, Applied)>),
}

/// (session, xid) → waiter.
#[derive(Debug, Default)]
pub struct Pending {
    map: Mutex<HashMap<(i64, i32), Waiter>>,
}

impl Pending {
    /// Registers a waiter; must happen before the proposal.
    pub fn register(&self, session: i64, xid: i32, w: Waiter) {
        self.lock().insert((session, xid), w);
    }

    /// Takes the waiter of an applied entry.
    pub fn take(&self, session: i64, xid: i32) -> Option<Waiter> {
        self.lock().remove(&(session, xid))
    }

    /// Number of writes in flight (ZooKeeper's outstanding_requests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, i32), Waiter>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
