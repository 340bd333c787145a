//! The leader's own duties: expiring sessions by tick buckets, and deleting empty containers
//! and expired TTL nodes (ZooKeeper's ContainerManager), each through the log like any write;
//! and, on every server, purging old snapshots (ZooKeeper's DatadirCleanupManager).

use crate::shared::Shared;
use crate::txn::{Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;
use zk_codec::records::DeleteContainerRequest;
use zk_codec::Request;

/// Wakes at each tick boundary and closes the sessions whose bucket has passed.
pub async fn expire_sessions(shared: Arc<Shared>) {
    let mut was_leading = false;
    loop {
        let now = crate::clock::now_ms();
        let next = shared.sessions.next_tick(now);
        let wait = Duration::from_millis((next - now).max(1) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let log = shared.log();
        // Only a leader with a working quorum expires sessions: one cut off from its followers
        // would otherwise queue expiries that commit once the quorum is back, while ZooKeeper's
        // leader stops leading and the next one gives every session a fresh timeout.
        let leading = log.leads_with_quorum(crate::ensemble::quorum_grace_ms(&shared));
        if !leading {
            was_leading = false;
            continue;
        }
        if !was_leading {
            // A leader that starts leading (elected, or with its quorum back) gives every
            // session a fresh timeout, as a newly elected ZooKeeper leader does; checked here,
            // before any expiry, so that no session lapses for the time nobody could reach it.
            was_leading = true;
            let now = crate::clock::now_ms();
            for (id, _, _) in shared.sessions.snapshot() {
                shared.sessions.touch(id, now);
            }
            continue;
        }
        for id in shared.sessions.take_expired(crate::clock::now_ms()) {
            tracing::info!(session = format_args!("0x{id:x}"), "session expired");
            crate::ops::metrics::count(crate::ops::metrics::Counter::StaleSessionsExpired, 1);
            let txn = Txn {
                session: id,
                cxid: 0,
                time_ms: 0,
                auth: Vec::new(),
                op: TxnOp::CloseSession,
            };
            if shared.log().propose(txn).await.is_err() {
                return;
            }
        }
    }
}

/// Every `znode.container.checkIntervalMs`, deletes what `DataTree::reapable` names, at most
/// `znode.container.maxPerMinute` per minute.
pub async fn reap_containers(shared: Arc<Shared>) {
    let interval = Duration::from_millis(shared.config.container_check_interval_ms.max(1));
    let per_minute = shared.config.container_max_per_minute.max(1);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        if !shared.log().is_leader() {
            continue;
        }
        let limit = ((per_minute as u128 * interval.as_millis()) / 60_000).max(1) as usize;
        let paths = shared.read_tree().reapable(crate::clock::now_ms(), limit);
        for path in paths {
            tracing::debug!(path = %path, "reaping container or expired TTL node");
            let req = Request::DeleteContainer(DeleteContainerRequest { path });
            let txn = Txn {
                session: 0,
                cxid: 0,
                time_ms: 0,
                auth: Vec::new(),
                op: TxnOp::Request(req),
            };
            if shared.log().propose(txn).await.is_err() {
                return;
            }
        }
    }
}

/// autopurge: with purgeInterval > 0 hours, keeps the newest snapRetainCount snapshots, once at
/// start-up and then every interval. With 0 (the default) nothing is purged, as in ZooKeeper.
pub async fn purge_snapshots(shared: Arc<Shared>, dir: std::path::PathBuf) {
    let hours = shared.config.purge_interval_hours;
    if hours == 0 {
        return;
    }
    let keep = shared.config.snap_retain_count;
    loop {
        let d = dir.clone();
        let _ =
            tokio::task::spawn_blocking(move || crate::storage::snapshot::retain(&d, keep)).await;
        tracing::info!(keep, "purged old snapshots");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(hours * 3600)) => {}
            _ = shared.shutdown.cancelled() => return,
        }
    }
}
