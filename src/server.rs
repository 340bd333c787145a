//! Wiring and lifecycle: recover the tree (newest valid snapshot, then the log after it), start
//! Raft, the housekeeping tasks and the client listener, then wait for SIGTERM/SIGINT, stop
//! accepting, and stop Raft (which flushes the log).

use crate::config::Config;
use crate::ops::metrics::{self, Basic};
use crate::replication::log_store::LogStore;
use crate::replication::state_machine::{self, Applied, StateMachine};
use crate::replication::{Log, Raft};
use crate::session::Sessions;
use crate::shared::Shared;
use crate::storage::snapshot as snapfile;
use crate::tree::{DataTree, Options};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// This server's Raft id when standalone (ZooKeeper's standalone session ids use 1 too).
const STANDALONE_ID: u64 = 1;

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// Loads the newest of `snapshots` (newest first) that verifies, falling back to older ones,
/// with room for `more` nodes; also returns which one it was for the state machine (openraft
/// asks for it once at start-up).
fn load_snapshot(
    dir: &Path,
    snapshots: &[snapfile::SnapshotId],
    opts: Options,
    more: usize,
) -> (Applied, DataTree, state_machine::Preloaded) {
    for &id in snapshots {
        match snapfile::read(dir, id)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                let (applied, tree) =
                    state_machine::decode_snapshot(&b, opts, more).map_err(|e| e.to_string())?;
                Ok((applied.clone(), tree, Some((id, applied))))
            }) {
            Ok(found) => {
                tracing::info!(index = id.index, term = id.term, "loaded snapshot");
                return found;
            }
            Err(e) => {
                tracing::warn!(index = id.index, term = id.term, error = %e, "skipping unusable snapshot")
            }
        }
    }
    (Applied::default(), DataTree::new(opts), None)
}

/// openraft's settings: heartbeats and election timeouts in milliseconds (tight, so that a
/// new leader is in place well within ZooKeeper's tick-based limits), snapshots every
/// snapCount entries.
fn raft_config(config: &Config) -> io::Result<Arc<openraft::Config>> {
    let raft_config = openraft::Config {
        cluster_name: "rzk".into(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.snap_count),
        // Entries are kept in memory until purged: after a snapshot only the last 100 stay
        // (each holds up to 1000 txns), enough for a follower a moment behind to catch up from
        // the log, as ZooKeeper's leader keeps its last 500 proposals (commitLogCount).
        max_in_snapshot_log_to_keep: 100,
        // Entries are txn batches (up to 1000 txns / 512 KiB, or one txn of up to
        // jute.maxbuffer): 32 of them stay well under the peer transport's 64 MiB frame.
        max_payload_entries: 32,
        ..Default::default()
    };
    Ok(Arc::new(
        raft_config
            .validate()
            .map_err(|e| other(format!("raft config: {e}")))?,
    ))
}

/// Recovers state and starts Raft; returns once this server has applied everything it logged.
async fn start_raft(
    shared: &Arc<Shared>,
    applied: Applied,
    preloaded: state_machine::Preloaded,
    snap_dir: &Path,
    log: LogStore,
) -> io::Result<Raft> {
    let config = &shared.config;
    let raft_config = raft_config(config)?;
    let fresh = log.is_empty() && applied.last.is_none();
    log.set_purged_if_empty(applied.last);
    let sm = StateMachine::new(shared.clone(), applied, snap_dir.to_path_buf())
        .with_preloaded(preloaded)
        .with_applied_marker(log.applied_marker());
    sm.spawn_idle_snapshots();
    let raft = Raft::new(
        STANDALONE_ID,
        raft_config,
        crate::replication::NoPeersNetwork,
        log,
        sm,
    )
    .await
    .map_err(|e| other(format!("starting raft: {e}")))?;
    if fresh {
        let addr = SocketAddr::new(config.client_address, config.client_port).to_string();
        let members = BTreeMap::from([(STANDALONE_ID, openraft::BasicNode { addr })]);
        raft.initialize(members)
            .await
            .map_err(|e| other(format!("initializing raft: {e}")))?;
    }
    let wait = raft.wait(Some(Duration::from_secs(30)));
    wait.state(openraft::ServerState::Leader, "standalone leadership")
        .await
        .map_err(|e| other(format!("{e}")))?;
    let last = raft.metrics().borrow().last_log_index;
    raft.wait(Some(Duration::from_secs(600)))
        .applied_index_at_least(last, "replay the log")
        .await
        .map_err(|e| other(format!("{e}")))?;
    Ok(raft)
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Runs the server until a shutdown signal.
///
/// # Errors
/// The client port can't be bound, storage can't be recovered, or Raft fails to start.
pub async fn run(config: Config) -> io::Result<()> {
    let started = Instant::now();
    let data_dir = config.data_dir.join("rzk");
    let log_dir = config.data_log_dir.join("rzk");
    for d in [&data_dir, &log_dir] {
        std::fs::create_dir_all(d)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", d.display())))?;
    }
    let ensemble = config.quorum.is_quorum_mode();
    let (server_id, client_addr) = if ensemble {
        let me = crate::ensemble::me_of(&config)?;
        // `server.N=...;[host:]port` gives the client address; else clientPort(Address).
        let addr = match &me.client {
            Some((h, p)) => SocketAddr::new(h.parse().unwrap_or(config.client_address), *p),
            None => SocketAddr::new(config.client_address, config.client_port),
        };
        (me.id, addr)
    } else {
        (
            STANDALONE_ID,
            SocketAddr::new(config.client_address, config.client_port),
        )
    };
    let addr = client_addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let opts = Options {
        extended_types: config.extended_types,
        reconfig_enabled: config.reconfig_enabled,
        skip_acl: config.skip_acl,
    };
    let snap_dir = data_dir.join("snapshots");
    // The log is opened first, decoding the entries after the newest snapshot (those the
    // replay needs, if that snapshot loads; otherwise the replay reads the rest back), so that
    // the tree is sized once for the nodes the replay may add.
    let log_started = Instant::now();
    let partial = snapfile::remove_partial(&snap_dir);
    if partial > 0 {
        tracing::info!(
            files = partial,
            "removed snapshots a crash left half written"
        );
    }
    let snapshots = snapfile::list(&snap_dir);
    let newest_snapshot = snapshots.first().map_or(0, |id| id.index);
    let log = LogStore::open_after(
        &log_dir,
        config.segment_bytes,
        config.force_sync,
        Some(newest_snapshot),
    )
    .map_err(|e| other(e.to_string()))?;
    let more = log.txns_after(newest_snapshot);
    tracing::info!(ms = ms(log_started), txns_to_replay = more, "log opened");
    let snap_started = Instant::now();
    let (applied, mut tree, preloaded) = load_snapshot(&snap_dir, &snapshots, opts, more);
    tracing::info!(
        znodes = tree.node_count(),
        ms = ms(snap_started),
        "snapshot loaded"
    );
    if ensemble {
        tree.set_config_data(&config.quorum.config_text());
    }
    metrics::observe(Basic::StartupSnapLoadTime, ms(snap_started));
    let snapshot_zxid = tree.last_zxid();
    let snapshot_index = applied.last.map_or(0, |l| l.index);
    check_no_gap(&log, &applied)?;
    let sessions = Sessions::new(
        server_id as u8,
        i64::from(config.tick_time_ms),
        crate::clock::now_ms(),
    );
    let shared = Arc::new(Shared::new(config, tree, sessions));
    shared.stats.snapshot_taken(snapshot_zxid);
    let replay_started = Instant::now();
    let raft = if ensemble {
        crate::ensemble::start_raft(
            &shared,
            raft_config(&shared.config)?,
            applied,
            preloaded,
            &snap_dir,
            log,
        )
        .await?
    } else {
        start_raft(&shared, applied, preloaded, &snap_dir, log).await?
    };
    let replayed = raft
        .metrics()
        .borrow()
        .last_applied
        .map_or(0, |l| l.index.saturating_sub(snapshot_index));
    metrics::observe(Basic::StartupTxnsLoadTime, ms(replay_started));
    tracing::info!(entries = replayed, ms = ms(replay_started), "log replayed");
    metrics::observe(Basic::StartupTxnsLoaded, replayed);
    metrics::observe(Basic::DbInitTime, ms(started));
    if ensemble {
        let observer =
            crate::ensemble::me_of(&shared.config)?.role == crate::config::Role::Observer;
        let peers = crate::ensemble::peers(&shared);
        shared.set_log(Log::ensemble(raft.clone(), server_id, observer, peers));
        tokio::spawn(crate::ensemble::duties(shared.clone()));
    } else {
        shared.set_log(Log::new(raft.clone()));
    }
    // Sessions restored from a snapshot get a fresh full timeout, as in ZooKeeper.
    let restored: Vec<(i64, i32)> = shared.read_tree().sessions().collect();
    let now = crate::clock::now_ms();
    for (id, timeout) in &restored {
        if !shared.sessions.is_live(*id) {
            shared.sessions.track(*id, *timeout, now);
        }
    }
    let nodes = shared.read_tree().node_count();
    tokio::spawn(crate::housekeeping::expire_sessions(shared.clone()));
    tokio::spawn(crate::housekeeping::reap_containers(shared.clone()));
    tokio::spawn(crate::housekeeping::purge_snapshots(
        shared.clone(),
        snap_dir.clone(),
    ));
    tokio::spawn(crate::net::serve(shared.clone(), listener));
    crate::idle_poll::start(Duration::from_micros(shared.config.idle_poll_micros));
    if !ensemble {
        // Not in an ensemble: members sharing a CPU poll each other's turns away (measured
        // with three members on one CPU, see `idle_poll`).
        tokio::spawn(crate::idle_poll::poll_runtime());
    }
    // Requests, writes (a follower applies them without requests) and snapshots (the end of
    // one frees the copies writes made meanwhile).
    let activity = shared.clone();
    crate::os_memory::collect_when_quiet(move || {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &activity.stats;
        (
            stats.packets_received.load(Relaxed),
            activity.last_zxid(),
            stats.last_snapshot_zxid.load(Relaxed),
            stats.last_snapshot_secs.load(Relaxed),
        )
    });
    // Bound before the line below: a client that reads it may go straight to these ports.
    if shared.config.admin_enabled {
        crate::ops::admin::start(shared.clone()).await;
    }
    if shared.config.metrics_prometheus {
        crate::ops::prometheus::start(shared.clone()).await;
    }
    // Tests and scripts wait for this line to learn the port.
    println!("rzk listening on {bound}");
    tracing::info!(addr = %bound, version = crate::ops::fourlw::VERSION, znodes = nodes, sessions = restored.len(),
        zxid = format_args!("0x{:x}", shared.last_zxid()), startup_ms = started.elapsed().as_millis() as u64, "serving clients");
    shutdown_signal().await;
    tracing::info!("shutting down");
    shared.shutdown.cancel();
    for c in shared.lock_conns().values() {
        c.closed.cancel();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), raft.shutdown()).await;
    Ok(())
}

/// Refuses to start when the log does not continue from the loaded snapshot.
fn check_no_gap(log: &LogStore, applied: &Applied) -> io::Result<()> {
    let snap = applied.last.map_or(0, |l| l.index);
    match log.first_and_purged() {
        (Some(first), _) if first > snap + 1 => Err(other(format!(
            "the log starts at index {first} but the newest usable snapshot covers only up to {snap}: \
             refusing to serve a tree with a gap"
        ))),
        (None, Some(purged)) if purged > snap => Err(other(
            "log entries are missing after the snapshot".into(),
        )),
        _ => Ok(()),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
