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
    }
}
