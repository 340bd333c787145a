//! The wait registry: who is waiting for the outcome of which (session, xid), and the reads a
//! session pipelined behind its latest write. Those reads must see the tree right after that
//! write and before the session's next one; since a log entry carries many txns, the applier
//! runs them between txns instead of leaving them to the connection's writer.

use crate::sink::Sink;
use crate::tree::Applied;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use zk_codec::records::RequestHeader;
use zk_codec::Request;

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

/// A read queued behind a write of the same session.
#[derive(Debug)]
pub struct AttachedRead {
    pub sink: Arc<Sink>,
    pub header: RequestHeader,
    pub request: Request,
}

#[derive(Debug, Default)]
struct Inner {
    waiters: HashMap<(i64, i32), Waiter>,
    /// session → (xid, connection) of its latest write still in flight. The connection is
    /// kept so that a write lost with an old connection (say, forwarded to a leader that then
    /// died) cannot hold back the reads of the session's next connection.
    last_write: HashMap<i64, (i32, u64)>,
    reads: HashMap<(i64, i32), Vec<AttachedRead>>,
}

/// (session, xid) → waiter.
#[derive(Debug, Default)]
pub struct Pending {
    map: Mutex<Inner>,
}

impl Pending {
    /// Registers a waiter; must happen before the proposal.
    pub fn register(&self, session: i64, xid: i32, w: Waiter) {
        let mut g = self.lock();
        if let Waiter::Conn { sink, .. } = &w {
            g.last_write.insert(session, (xid, sink.id));
        }
        g.waiters.insert((session, xid), w);
    }

    /// Takes the waiter of an applied txn, with the reads queued behind it.
    pub fn take(&self, session: i64, xid: i32) -> (Option<Waiter>, Vec<AttachedRead>) {
        let mut g = self.lock();
        if g.last_write.get(&session).is_some_and(|(x, _)| *x == xid) {
            g.last_write.remove(&session);
        }
        let reads = g.reads.remove(&(session, xid)).unwrap_or_default();
        (g.waiters.remove(&(session, xid)), reads)
    }

    /// Queues a read behind the session's latest write in flight; hands it back when there is
    /// none (the write was applied already, so the read may run now).
    ///
    /// # Errors
    /// The read itself, when no write of the session is in flight.
    pub fn attach_read(&self, session: i64, read: AttachedRead) -> Result<(), Box<AttachedRead>> {
        let mut g = self.lock();
        let xid = match g.last_write.get(&session) {
            Some(&(xid, conn)) if conn == read.sink.id => xid,
            _ => return Err(Box::new(read)),
        };
        g.reads.entry((session, xid)).or_default().push(read);
        Ok(())
    }

    /// Whether the session has a write in flight from connection `conn`.
    pub fn has_write_in_flight(&self, session: i64, conn: u64) -> bool {
        self.lock()
            .last_write
            .get(&session)
            .is_some_and(|(_, c)| *c == conn)
    }

    /// Number of writes in flight (ZooKeeper's outstanding_requests).
    pub fn len(&self) -> usize {
        self.lock().waiters.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
