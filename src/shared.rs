//! The handles every task shares: the tree, the watch table, the session table, the log and
//! its wait registry, the open connections, the counters and the configuration.
//!
//! Lock order: `tree` before `watches`. Neither lock is held across an `.await`.

use crate::config::Config;
use crate::ops::stats::ServerStats;
use crate::replication::{Log, Pending};
use crate::session::Sessions;
use crate::sink::{ConnId, Sink};
use crate::tree::DataTree;
use crate::watch::WatchTable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Shared server state.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub tree: RwLock<DataTree>,
    pub watches: Mutex<WatchTable>,
    pub sessions: Sessions,
    log: std::sync::OnceLock<Log>,
    pub pending: Pending,
    pub conns: Mutex<HashMap<ConnId, Arc<Sink>>>,
    pub stats: ServerStats,
    pub started: Instant,
    pub shutdown: CancellationToken,
    /// Ensemble members: which peers' links are broken (shared by every peer client).
    pub peer_links: crate::replication::peer::tcp::LinkHealth,
    next_conn: AtomicU64,
}

impl Shared {
    /// Wires the state together.
    pub fn new(config: Config, tree: DataTree, sessions: Sessions) -> Shared {
        Shared {
            config,
            tree: RwLock::new(tree),
            watches: Mutex::new(WatchTable::default()),
            sessions,
            log: std::sync::OnceLock::new(),
            pending: Pending::default(),
            conns: Mutex::new(HashMap::new()),
            stats: ServerStats::default(),
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            peer_links: Default::default(),
            next_conn: AtomicU64::new(1),
        }
    }

    // A poisoned lock means a panic in a critical section, which is a bug; the data is still
    // consistent for reads (apply does not panic mid-change by design), so keep serving.

    /// Read access to the tree.
    pub fn read_tree(&self) -> RwLockReadGuard<'_, DataTree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the tree (the applier only).
    pub fn write_tree(&self) -> RwLockWriteGuard<'_, DataTree> {
        self.tree.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The watch table (take after the tree lock if both are needed).
    pub fn lock_watches(&self) -> MutexGuard<'_, WatchTable> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open connections.
    pub fn lock_conns(&self) -> MutexGuard<'_, HashMap<ConnId, Arc<Sink>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The log, once Raft has started.
    ///
    /// # Panics
    /// Before [`Shared::set_log`]; the server sets it before accepting clients.
    pub fn log(&self) -> &Log {
        // Invariant: server::run sets the log before any task that proposes is started.
        self.log.get().expect("log started before serving")
    }

    /// The log, once started (None while start-up replays it).
    pub fn try_log(&self) -> Option<&Log> {
        self.log.get()
    }

    /// Installs the started log.
    pub fn set_log(&self, log: Log) {
        let _ = self.log.set(log);
    }

    /// The zxid of the last applied entry.
    pub fn last_zxid(&self) -> i64 {
        self.read_tree().last_zxid()
    }
}
