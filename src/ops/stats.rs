//! Server-wide counters behind srvr/stat/mntr: packets, request latency.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters; all relaxed atomics (approximate under concurrency, like ZooKeeper's).
#[derive(Debug)]
pub struct ServerStats {
    /// gtmk/stmk: kept and echoed, nothing is traced by it.
    pub trace_mask: AtomicI64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    min_latency: AtomicI64,
    max_latency: AtomicI64,
    total_latency: AtomicI64,
    count: AtomicI64,
    /// Sizes of reply frames (ZooKeeper's client_response stats; -1 before any).
    pub last_response_size: AtomicI64,
    pub min_response_size: AtomicI64,
    pub max_response_size: AtomicI64,
    /// The zxid and time (s since the epoch) of the last snapshot written or loaded.
    pub last_snapshot_zxid: AtomicI64,
    pub last_snapshot_secs: AtomicI64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            trace_mask: AtomicI64::new(306),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            min_latency: AtomicI64::new(0),
            max_latency: AtomicI64::new(0),
            total_latency: AtomicI64::new(0),
            count: AtomicI64::new(0),
            last_response_size: AtomicI64::new(-1),
            min_response_size: AtomicI64::new(-1),
            max_response_size: AtomicI64::new(-1),
            last_snapshot_zxid: AtomicI64::new(0),
            last_snapshot_secs: AtomicI64::new(crate::clock::now_ms() / 1000),
        }
    }
}

impl ServerStats {
    /// Records a completed request's latency in ms.
    pub fn record_latency(&self, ms: i64) {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if n == 0 || ms < self.min_latency.load(Ordering::Relaxed) {
            self.min_latency.store(ms, Ordering::Relaxed);
        }
        self.max_latency.fetch_max(ms, Ordering::Relaxed);
        self.total_latency.fetch_add(ms, Ordering::Relaxed);
    }

    /// Notes a snapshot at `zxid`, now.
    pub fn snapshot_taken(&self, zxid: i64) {
        self.last_snapshot_zxid.store(zxid, Ordering::Relaxed);
        self.last_snapshot_secs
            .store(crate::clock::now_ms() / 1000, Ordering::Relaxed);
    }

    /// Records the sizes of a batch of reply frames: the last, smallest and largest.
    pub fn record_response_sizes(&self, last: i64, min: i64, max: i64) {
        self.last_response_size.store(last, Ordering::Relaxed);
        let m = self.min_response_size.load(Ordering::Relaxed);
        if m < 0 || min < m {
            self.min_response_size.store(min, Ordering::Relaxed);
        }
        self.max_response_size.fetch_max(max, Ordering::Relaxed);
    }

    /// (min, avg, max) in ms; zeros before any request.
    pub fn latency(&self) -> (i64, f64, i64) {
        let n = self.count.load(Ordering::Relaxed);
        if n == 0 {
            return (0, 0.0, 0);
        }
        let avg = self.total_latency.load(Ordering::Relaxed) as f64 / n as f64;
        (
            self.min_latency.load(Ordering::Relaxed),
            avg,
            self.max_latency.load(Ordering::Relaxed),
        )
    }

    /// srst: forget everything.
    pub fn reset(&self) {
        for a in [
            &self.min_latency,
            &self.max_latency,
            &self.total_latency,
            &self.count,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        for a in [
            &self.last_response_size,
            &self.min_response_size,
            &self.max_response_size,
        ] {
            a.store(-1, Ordering::Relaxed);
        }
        crate::ops::metrics::global().reset();
    }
}
