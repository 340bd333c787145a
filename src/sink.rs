//! The per-connection outbound queue handle. The connection's reader, the applier and the watch
//! table all push into it; the connection's writer task drains it in order (see
//! `net::writer` for how write replies keep their place among reads).
//!
//! The queue is bounded ([`QUEUE_LIMIT`] messages). The reader waits when it is full, which stops
//! reading that socket (back-pressure). The applier never waits: if it finds the queue full it
//! closes that connection, so one slow client can't stall every other session.

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zk_codec::records::{Id, RequestHeader};
use zk_codec::Request;

/// Messages a connection's writer handles, in arrival order.
#[derive(Debug)]
pub enum Outbound {
    /// A read to execute once every earlier write of this connection has been answered.
    Read(RequestHeader, Request),
    /// A ready reply that must keep its place behind earlier writes (e.g. an error reply).
    Ordered(Bytes),
    /// A write (or sync) with this xid was submitted; its reply arrives later as `WriteDone`.
    WriteSlot { xid: i32 },
    /// The reply to the outstanding write with this xid; `close` after closeSession.
    WriteDone { xid: i32, frame: Bytes, close: bool },
    /// Sent at once, ahead of queued replies: notifications and auth replies.
    Immediate(Bytes),
    /// Flush what is queued and close.
    Close,
}

/// How many messages a connection may have queued.
pub const QUEUE_LIMIT: usize = 16 * 1024;

/// Identifies a connection for the lifetime of the process.
pub type ConnId = u64;

/// A connection as the rest of the server sees it.
#[derive(Debug)]
pub struct Sink {
    pub id: ConnId,
    pub peer: SocketAddr,
    tx: mpsc::Sender<Outbound>,
    /// Cancelled when the connection must end (kicked, expired, overflowed, shutdown).
    pub closed: CancellationToken,
    /// The connection's identities: `ip:<addr>` plus whatever auth added.
    pub ids: RwLock<Vec<Id>>,
    /// The bound session, 0 before the handshake completes.
    pub session: AtomicI64,
    pub stats: ConnStats,
    overflowed: AtomicBool,
}

/// Per-connection counters for `cons` and `stat`.
#[derive(Debug, Default)]
pub struct ConnStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub established_ms: AtomicI64,
    pub last_op: std::sync::Mutex<&'static str>,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    pub last_response_ms: AtomicI64,
    pub last_latency: AtomicI64,
    pub min_latency: AtomicI64,
    pub max_latency: AtomicI64,
    pub total_latency: AtomicI64,
    pub count: AtomicI64,
}

impl ConnStats {
    /// Records one completed request.
    pub fn record(&self, op: &'static str, cxid: i32, zxid: i64, now_ms: i64, latency_ms: i64) {
        if let Ok(mut l) = self.last_op.lock() {
            *l = op;
        }
        self.last_cxid.store(i64::from(cxid), Ordering::Relaxed);
        self.last_zxid.store(zxid, Ordering::Relaxed);
        self.last_response_ms.store(now_ms, Ordering::Relaxed);
        self.last_latency.store(latency_ms, Ordering::Relaxed);
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if n == 0 || latency_ms < self.min_latency.load(Ordering::Relaxed) {
            self.min_latency.store(latency_ms, Ordering::Relaxed);
        }
        self.max_latency.fetch_max(latency_ms, Ordering::Relaxed);
        self.total_latency.fetch_add(latency_ms, Ordering::Relaxed);
    }

    /// crst: forget the counters.
    pub fn reset(&self) {
        for a in [
            &self.last_latency,
            &self.min_latency,
            &self.max_latency,
            &self.total_latency,
            &self.count,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
    }
}

impl Sink {
    /// A sink and the receiving end for the writer task.
    pub fn new(id: ConnId, peer: SocketAddr) -> (Arc<Sink>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
        let ids = vec![Id::new("ip", peer.ip().to_string())];
        let sink = Sink {
            id,
            peer,
            tx,
            closed: CancellationToken::new(),
            ids: RwLock::new(ids),
            session: AtomicI64::new(0),
            stats: ConnStats::default(),
            overflowed: AtomicBool::new(false),
        };
        (Arc::new(sink), rx)
    }

    /// Queues from a task that may wait (the connection's reader).
    ///
    /// # Errors
    /// When the connection is gone.
    pub async fn send(&self, msg: Outbound) -> Result<(), Closed> {
        self.tx.send(msg).await.map_err(|_| Closed)
    }

    /// Queues without waiting (the applier, the watch table). A full queue closes the
    /// connection instead.
    pub fn push(&self, msg: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(msg) {
            if !self.overflowed.swap(true, Ordering::Relaxed) {
                tracing::info!(peer = %self.peer, session = format_args!("0x{:x}", self.session()), "outbound queue full, closing connection");
            }
            self.closed.cancel();
        }
    }

    /// The bound session id (0 if none yet).
    pub fn session(&self) -> i64 {
        self.session.load(Ordering::Relaxed)
    }

    /// A copy of the connection's identities.
    pub fn identities(&self) -> Vec<Id> {
        self.ids.read().map(|g| g.clone()).unwrap_or_default()
    }
}

/// The connection has gone away.
#[derive(Debug, Clone, Copy)]
pub struct Closed;
