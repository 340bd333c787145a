//! The catalogue of ZooKeeper metric names (ServerMetrics in 3.8) and their values.
//!
//! Call sites use the enums below; each value is kept here (atomics, so `mntr` and the
//! AdminServer `monitor` command can render ZooKeeper's default-provider keys) and is also
//! forwarded to the `metrics` facade, which the Prometheus exporter renders on /metrics when
//! `metricsProvider.className` names the Prometheus provider. Gauges are not stored: they are
//! read from live state when a report is made (see [`crate::ops::report`]).

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

macro_rules! names {
    ($(#[$m:meta])* $enum:ident, $list:ident { $($v:ident = $n:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum $enum { $($v),* }
        /// Every name of this family, in declaration order.
        pub const $list: &[&str] = &[$($n),*];
        impl $enum {
            /// The ZooKeeper metric name.
            pub fn name(self) -> &'static str {
                $list[self as usize]
            }
        }
    };
}

names! {
    /// Counters (monotonic), ZooKeeper 3.8's list.
    Counter, COUNTERS {
        ProposalCount = "proposal_count",
        WatchBytes = "watch_bytes",
        OutstandingChangesRemoved = "outstanding_changes_removed",
        ThrottledOps = "throttled_ops",
        StaleRequestsDropped = "stale_requests_dropped",
        LargeRequestsRejected = "large_requests_rejected",
        InsecureAdminCount = "insecure_admin_count",
        ConnectionRejected = "connection_rejected",
        CnxnClosedWithoutZkServerRunning = "cnxn_closed_without_zk_server_running",
        SessionlessConnectionsExpired = "sessionless_connections_expired",
        LookingCount = "looking_count",
        DeadWatchersQueued = "dead_watchers_queued",
        StaleRequests = "stale_requests",
        ConnectionDropCount = "connection_drop_count",
        LearnerProposalReceivedCount = "learner_proposal_received_count",
        DigestMismatchesCount = "digest_mismatches_count",
        DeadWatchersCleared = "dead_watchers_cleared",
        ResponsePacketCacheHits = "response_packet_cache_hits",
        BytesReceivedCount = "bytes_received_count",
        AddDeadWatcherStallTime = "add_dead_watcher_stall_time",
        RequestThrottleWaitCount = "request_throttle_wait_count",
        RequestsNotForwardedToCommitProcessor = "requests_not_forwarded_to_commit_processor",
        ResponsePacketCacheMisses = "response_packet_cache_misses",
        EnsembleAuthSuccess = "ensemble_auth_success",
        PrepProcessorRequestQueued = "prep_processor_request_queued",
        LearnerCommitReceivedCount = "learner_commit_received_count",
        StaleReplies = "stale_replies",
        ConnectionRequestCount = "connection_request_count",
        ResponseBytes = "response_bytes",
        EnsembleAuthFail = "ensemble_auth_fail",
        DiffCount = "diff_count",
        ResponsePacketGetChildrenCacheMisses = "response_packet_get_children_cache_misses",
        ConnectionRevalidateCount = "connection_revalidate_count",
        QuitLeadingDueToDisloyalVoter = "quit_leading_due_to_disloyal_voter",
        SnapCount = "snap_count",
        UnrecoverableErrorCount = "unrecoverable_error_count",
        UnsuccessfulHandshake = "unsuccessful_handshake",
        CommitCount = "commit_count",
        StaleSessionsExpired = "stale_sessions_expired",
        ResponsePacketGetChildrenCacheHits = "response_packet_get_children_cache_hits",
        SyncProcessorRequestQueued = "sync_processor_request_queued",
        OutstandingChangesQueued = "outstanding_changes_queued",
        RequestCommitQueued = "request_commit_queued",
        EnsembleAuthSkip = "ensemble_auth_skip",
        SkipLearnerRequestToNextProcessorCount = "skip_learner_request_to_next_processor_count",
        TlsHandshakeExceeded = "tls_handshake_exceeded",
        RevalidateCount = "revalidate_count",
        AuthFailedCount = "auth_failed_count",
    }
}

names! {
    /// Summaries ZooKeeper reports as avg/min/max/cnt/sum (BASIC).
    Basic, BASIC {
        SocketClosingTime = "socket_closing_time",
        ProposalProcessTime = "proposal_process_time",
        LeaderUnavailableTime = "leader_unavailable_time",
        NodeCreatedWatchCount = "node_created_watch_count",
        SessionQueuesDrained = "session_queues_drained",
        WriteCommitProcReqQueued = "write_commit_proc_req_queued",
        ConnectionTokenDeficit = "connection_token_deficit",
        ReadCommitProcReqQueued = "read_commit_proc_req_queued",
        NodeDeletedWatchCount = "node_deleted_watch_count",
        StartupTxnsLoadTime = "startup_txns_load_time",
        SyncProcessorQueueSize = "sync_processor_queue_size",
        FollowerSyncTime = "follower_sync_time",
        PrepProcessorQueueSize = "prep_processor_queue_size",
        FsyncTime = "fsynctime",
        InflightSnapCount = "inflight_snap_count",
        ReadsIssuedFromSessionQueue = "reads_issued_from_session_queue",
        LearnerRequestProcessorQueueSize = "learner_request_processor_queue_size",
        SnapshotTime = "snapshottime",
        UnavailableTime = "unavailable_time",
        StartupTxnsLoaded = "startup_txns_loaded",
        ReadsAfterWriteInSessionQueue = "reads_after_write_in_session_queue",
        RequestsInSessionQueue = "requests_in_session_queue",
        WriteCommitProcIssued = "write_commit_proc_issued",
        PrepProcessTime = "prep_process_time",
        PendingSessionQueueSize = "pending_session_queue_size",
        TimeWaitingEmptyPoolInCommitProcessorReadMs = "time_waiting_empty_pool_in_commit_processor_read_ms",
        CommitProcessTime = "commit_process_time",
        DbInitTime = "dbinittime",
        InflightDiffCount = "inflight_diff_count",
        NettyQueuedBufferCapacity = "netty_queued_buffer_capacity",
        ElectionTime = "election_time",
        CommitCommitProcReqQueued = "commit_commit_proc_req_queued",
        SyncProcessorBatchSize = "sync_processor_batch_size",
        NodeChildrenWatchCount = "node_children_watch_count",
        WriteBatchTimeInCommitProcessor = "write_batch_time_in_commit_processor",
        ReadCommitProcIssued = "read_commit_proc_issued",
        ConcurrentRequestProcessingInCommitProcessor = "concurrent_request_processing_in_commit_processor",
        ObserverSyncTime = "observer_sync_time",
        NodeChangedWatchCount = "node_changed_watch_count",
        SyncProcessTime = "sync_process_time",
        StartupSnapLoadTime = "startup_snap_load_time",
    }
}

names! {
    /// Summaries with percentiles (ADVANCED): p50/p95/p99/p999 as well.
    Advanced, ADVANCED {
        PrepProcessorQueueTimeMs = "prep_processor_queue_time_ms",
        JvmPauseTimeMs = "jvm_pause_time_ms",
        CloseSessionPrepTime = "close_session_prep_time",
        ReadCommitprocTimeMs = "read_commitproc_time_ms",
        UpdateLatency = "updatelatency",
        LocalWriteCommittedTimeMs = "local_write_committed_time_ms",
        RequestThrottleQueueTimeMs = "request_throttle_queue_time_ms",
        ReadLatency = "readlatency",
        QuorumAckLatency = "quorum_ack_latency",
        OmCommitProcessTimeMs = "om_commit_process_time_ms",
        ReadFinalProcTimeMs = "read_final_proc_time_ms",
        CommitPropagationLatency = "commit_propagation_latency",
        DeadWatchersCleanerLatency = "dead_watchers_cleaner_latency",
        WriteFinalProcTimeMs = "write_final_proc_time_ms",
        ProposalAckCreationLatency = "proposal_ack_creation_latency",
        ProposalLatency = "proposal_latency",
        OmProposalProcessTimeMs = "om_proposal_process_time_ms",
        SyncProcessorQueueAndFlushTimeMs = "sync_processor_queue_and_flush_time_ms",
        PropagationLatency = "propagation_latency",
        ServerWriteCommittedTimeMs = "server_write_committed_time_ms",
        SyncProcessorQueueTimeMs = "sync_processor_queue_time_ms",
        SyncProcessorQueueFlushTimeMs = "sync_processor_queue_flush_time_ms",
        WriteCommitprocTimeMs = "write_commitproc_time_ms",
    }
}

/// Which per-namespace summary set a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Read,
    Write,
}

/// min/max/count/sum of observed values (ZooKeeper's AvgMinMaxCounter).
#[derive(Debug)]
struct MinMax {
    min: AtomicU64,
    max: AtomicU64,
    count: AtomicU64,
    sum: AtomicU64,
}

impl Default for MinMax {
    fn default() -> Self {
        MinMax {
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }
}

impl MinMax {
    fn observe(&self, v: u64) {
        self.min.fetch_min(v, Ordering::Relaxed);
        self.max.fetch_max(v, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.min.store(u64::MAX, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.sum.store(0, Ordering::Relaxed);
    }

    /// (avg, min, max, cnt, sum) as ZooKeeper prints them (min 0 when empty).
    fn values(&self) -> (f64, u64, u64, u64, u64) {
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum.load(Ordering::Relaxed);
        let min = self.min.load(Ordering::Relaxed);
        let avg = if count == 0 {
            0.0
        } else {
            sum as f64 / count as f64
        };
        (
            avg,
            if min == u64::MAX { 0 } else { min },
            self.max.load(Ordering::Relaxed),
            count,
            sum,
        )
    }
}

/// One value line of a report: a metric key (without `zk_`) and its rendered value.
pub type Line = (String, String);

/// Every counter and summary of the server.
#[derive(Debug)]
pub struct Catalogue {
    counters: Vec<AtomicU64>,
    basic: Vec<MinMax>,
    advanced: Vec<(MinMax, Mutex<Histogram<u64>>)>,
    namespaces: Mutex<BTreeMap<(String, bool), MinMax>>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue {
            counters: COUNTERS.iter().map(|_| AtomicU64::new(0)).collect(),
            basic: BASIC.iter().map(|_| MinMax::default()).collect(),
            advanced: ADVANCED
                .iter()
                .map(|_| {
                    // 3 significant figures up to an hour in ms: a few KiB each.
                    let h = Histogram::new_with_max(3_600_000, 3)
                        .expect("static histogram bounds are valid");
                    (MinMax::default(), Mutex::new(h))
                })
                .collect(),
            namespaces: Mutex::new(BTreeMap::new()),
        }
    }
}

/// The process-wide catalogue (metrics are process-wide in ZooKeeper too).
pub fn global() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(Catalogue::default)
}

/// Adds `n` to a counter.
pub fn count(c: Counter, n: u64) {
    global().counters[c as usize].fetch_add(n, Ordering::Relaxed);
    // auth_failed_count is a gauge in ZooKeeper's exporter; the scrape sets it.
    if c != Counter::AuthFailedCount {
        metrics::counter!(c.name()).increment(n);
    }
}

/// Records one observation of a BASIC summary.
pub fn observe(s: Basic, v: u64) {
    global().basic[s as usize].observe(v);
    metrics::histogram!(s.name()).record(v as f64);
}

/// Records one observation of an ADVANCED summary.
pub fn observe_advanced(s: Advanced, v: u64) {
    let (mm, h) = &global().advanced[s as usize];
    mm.observe(v);
    if let Ok(mut h) = h.lock() {
        h.saturating_record(v);
    }
    metrics::histogram!(s.name()).record(v as f64);
}

/// Records the response size of a request on the top-level znode `ns` (read_per_namespace /
/// write_per_namespace in ZooKeeper).
pub fn observe_namespace(kind: Namespace, path: &str, bytes: u64) {
    let ns = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if ns.is_empty() {
        return;
    }
    let write = kind == Namespace::Write;
    if let Ok(mut m) = global().namespaces.lock() {
        if let Some(mm) = m.get(&(ns.to_string(), write)) {
            mm.observe(bytes);
        } else {
            let mm = MinMax::default();
            mm.observe(bytes);
            m.insert((ns.to_string(), write), mm);
        }
    }
    let name = if write {
        "write_per_namespace"
    } else {
        "read_per_namespace"
    };
    metrics::histogram!(name, "key" => ns.to_string()).record(bytes as f64);
}

/// The current value of a counter.
pub fn counter_value(c: Counter) -> u64 {
    global().counters[c as usize].load(Ordering::Relaxed)
}

impl Catalogue {
    /// Counter and summary lines in mntr order (counters, then summaries), keys without `zk_`.
    pub fn lines(&self) -> Vec<Line> {
        let mut out = Vec::with_capacity(600);
        for (name, v) in COUNTERS.iter().zip(&self.counters) {
            if *name == "auth_failed_count" {
                continue; // a gauge in ZooKeeper's report; the report prints it with the gauges
            }
            out.push((name.to_string(), v.load(Ordering::Relaxed).to_string()));
        }
        let basic = |out: &mut Vec<Line>, name: &str, mm: &MinMax| {
            let (avg, min, max, cnt, sum) = mm.values();
            out.push((format!("avg_{name}"), crate::ops::java_double(avg)));
            out.push((format!("min_{name}"), min.to_string()));
            out.push((format!("max_{name}"), max.to_string()));
            out.push((format!("cnt_{name}"), cnt.to_string()));
            out.push((format!("sum_{name}"), sum.to_string()));
        };
        for (name, mm) in BASIC.iter().zip(&self.basic) {
            basic(&mut out, name, mm);
        }
        for (name, (mm, h)) in ADVANCED.iter().zip(&self.advanced) {
            basic(&mut out, name, mm);
            let q = |h: &Histogram<u64>, q: f64| {
                if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(q)
                }
            };
            let (p50, p95, p99, p999) = match h.lock() {
                Ok(h) => (q(&h, 0.5), q(&h, 0.95), q(&h, 0.99), q(&h, 0.999)),
                Err(_) => (0, 0, 0, 0),
            };
            out.push((format!("p50_{name}"), p50.to_string()));
            out.push((format!("p95_{name}"), p95.to_string()));
            out.push((format!("p99_{name}"), p99.to_string()));
            out.push((format!("p999_{name}"), p999.to_string()));
        }
        if let Ok(m) = self.namespaces.lock() {
            for ((ns, write), mm) in m.iter() {
                let kind = if *write { "write" } else { "read" };
                basic(&mut out, &format!("{ns}_{kind}_per_namespace"), mm);
            }
        }
        out
    }

    /// srst: ZooKeeper's `resetAllValues` zeroes the summaries (counters keep counting).
    pub fn reset(&self) {
        for mm in &self.basic {
            mm.reset();
        }
        for (mm, h) in &self.advanced {
            mm.reset();
            if let Ok(mut h) = h.lock() {
                h.reset();
            }
        }
        if let Ok(mut m) = self.namespaces.lock() {
            m.clear();
        }
    }
}

/// Registers every counter and summary with the metrics facade so that a scrape shows each
/// name from the start, as ZooKeeper's exporter does.
pub fn describe_all() {
    for name in COUNTERS.iter().filter(|n| **n != "auth_failed_count") {
        metrics::counter!(*name).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lines_complete() {
        let mut all: Vec<&str> = COUNTERS.to_vec();
        all.extend(BASIC);
        all.extend(ADVANCED);
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        let c = Catalogue::default();
        // counters (minus the gauge-rendered one) + 5 per basic + 9 per advanced
        assert_eq!(
            c.lines().len(),
            COUNTERS.len() - 1 + 5 * BASIC.len() + 9 * ADVANCED.len()
        );
    }

    #[test]
    fn summaries_render_like_zookeeper() {
        let c = Catalogue::default();
        c.basic[Basic::FsyncTime as usize].observe(2);
        c.basic[Basic::FsyncTime as usize].observe(5);
        let lines = c.lines();
        let get = |k: &str| lines.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("avg_fsynctime"), "3.5");
        assert_eq!(get("min_fsynctime"), "2");
        assert_eq!(get("max_fsynctime"), "5");
        assert_eq!(get("cnt_fsynctime"), "2");
        assert_eq!(get("min_snapshottime"), "0");
        assert_eq!(get("p99_readlatency"), "0");
        c.reset();
        assert_eq!(
            c.lines()
                .iter()
                .find(|(n, _)| n == "cnt_fsynctime")
                .unwrap()
                .1,
            "0"
        );
    }
}
