//! Ensemble mode (zoo.cfg with several `server.N` lines): this member's Raft over the TCP
//! peer transport on its quorum port, and the duties that depend on the member's role:
//! followers forward their clients' session activity to the leader; the leader adds the
//! observers as non-voting learners; a member without a leader closes its client
//! connections, as a ZooKeeper server that lost its quorum does.

use crate::config::{Member, Role};
use crate::replication::peer::early::EarlyAppends;
use crate::replication::peer::tcp::{self, TcpPeers};
use crate::replication::state_machine::{Applied, StateMachine};
use crate::replication::{log_store::LogStore, Raft};
use crate::shared::Shared;
use openraft::BasicNode;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// This member's line and id.
pub fn me(shared: &Shared) -> io::Result<&Member> {
    me_of(&shared.config)
}

/// This member's line, from the configuration.
pub fn me_of(config: &crate::config::Config) -> io::Result<&Member> {
    let q = &config.quorum;
    let id = q
        .my_id
        .ok_or_else(|| other("ensemble mode needs a myid file in dataDir".into()))?;
    q.members
        .get(&id)
        .ok_or_else(|| other(format!("myid is {id} but zoo.cfg has no server.{id} line")))
}

/// The peer transport with this server's own view of the members' quorum addresses.
pub fn peers(shared: &Shared) -> TcpPeers {
    TcpPeers {
        health: shared.peer_links.clone(),
        addrs: Arc::new(
            shared
                .config
                .quorum
                .members
                .values()
                .map(|m| (m.id, node(m).addr))
                .collect(),
        ),
    }
}

/// How long a member may go without a working quorum before it stops serving clients:
/// syncLimit ticks, as a ZooKeeper follower or leader gives up after syncLimit.
pub fn quorum_grace_ms(shared: &Shared) -> u64 {
    let sync_limit = shared
        .config
        .raw
        .get("syncLimit")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5)
        .max(1);
    sync_limit * shared.config.tick_time_ms.max(1) as u64
}

fn node(m: &Member) -> BasicNode {
    BasicNode {
        addr: format!("{}:{}", m.host, m.quorum_port),
    }
}

/// Starts this member's Raft and its peer listener; returns once a leader is known and this
/// member has applied what it logged.
pub async fn start_raft(
    shared: &Arc<Shared>,
    raft_config: Arc<openraft::Config>,
    applied: Applied,
    preloaded: crate::replication::state_machine::Preloaded,
    snap_dir: &Path,
    log: LogStore,
) -> io::Result<Raft> {
    let me = me(shared)?.clone();
    let bind_host = if shared
        .config
        .raw
        .get("quorumListenOnAllIPs")
        .is_some_and(|v| v == "true")
    {
        "0.0.0.0".to_string()
    } else {
        me.host.clone()
    };
    let listener = TcpListener::bind((bind_host.as_str(), me.quorum_port))
        .await
        .map_err(|e| {
            other(format!(
                "cannot listen on the quorum port {bind_host}:{}: {e}",
                me.quorum_port
            ))
        })?;
    let fresh = log.is_empty() && applied.last.is_none();
    log.set_purged_if_empty(applied.last);
    let sm = StateMachine::new(shared.clone(), applied, snap_dir.to_path_buf())
        .with_preloaded(preloaded)
        .with_applied_marker(log.applied_marker());
    sm.spawn_idle_snapshots();
    let (early, early_queue) = EarlyAppends::new(me.id);
    let log = log.with_early_appends(early);
    let raft = Raft::new(me.id, raft_config, peers(shared), log, sm)
        .await
        .map_err(|e| other(format!("starting raft: {e}")))?;
    tokio::spawn(early_queue.run(raft.clone(), peers(shared), shared.shutdown.clone()));
    let touch_shared = shared.clone();
    let touch: tcp::TouchFn = Arc::new(move |ids: &[i64]| {
        let now = crate::clock::now_ms();
        for id in ids {
            touch_shared.sessions.touch(*id, now);
        }
    });
    tokio::spawn(tcp::serve(
        me.id,
        raft.clone(),
        touch,
        listener,
        shared.shutdown.clone(),
    ));
    if fresh && me.role == Role::Participant {
        // Every voter initializes with the same membership; that is safe in openraft.
        let voters: BTreeMap<u64, BasicNode> = shared
            .config
            .quorum
            .members
            .values()
            .filter(|m| m.role == Role::Participant)
            .map(|m| (m.id, node(m)))
            .collect();
        if let Err(e) = raft.initialize(voters).await {
            tracing::debug!(error = %e, "raft already initialized");
        }
    }
    tracing::info!(id = me.id, "waiting for a leader");
    raft.wait(None)
        .metrics(|m| m.current_leader.is_some(), "a leader")
        .await
        .map_err(|e| other(format!("{e}")))?;
    let last = raft.metrics().borrow().last_log_index;
    raft.wait(Some(Duration::from_secs(600)))
        .applied_index_at_least(last, "replay the log")
        .await
        .map_err(|e| other(format!("{e}")))?;
    Ok(raft)
}

/// Runs the role-dependent duties until shutdown.
pub async fn duties(shared: Arc<Shared>) {
    let tick = Duration::from_millis(shared.config.tick_time_ms.max(1) as u64);
    // A leader whose peers have been silent for syncLimit ticks stops serving its clients.
    let grace = quorum_grace_ms(&shared);
    let mut was_leader = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick / 2) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let log = shared.log();
        // Leading means leading with a quorum (sessions get fresh timeouts in
        // housekeeping::expire_sessions at the same transition).
        let leader = log.leads_with_quorum(grace);
        if leader && !was_leader {
            add_observers(&shared).await;
            tracing::info!("leading");
        }
        was_leader = leader;
        if !log.is_leader() {
            if let Some(link) = log.link() {
                let active: Vec<i64> = shared
                    .lock_conns()
                    .values()
                    .map(|c| c.session())
                    .filter(|s| *s != 0)
                    .collect();
                if !active.is_empty() {
                    let _ = link.touch(active).await;
                }
            }
        }
        // has_quorum already gives a leader syncLimit ticks of silent peers; broken peer links
        // or an election in progress end service at once, as a ZooKeeper server that goes
        // LOOKING closes its clients.
        if !log.has_quorum(grace) {
            let conns: Vec<_> = shared.lock_conns().values().cloned().collect();
            if !conns.is_empty() {
                tracing::warn!(
                    clients = conns.len(),
                    "no quorum: closing client connections"
                );
            }
            for c in conns {
                c.closed.cancel();
            }
        }
    }
}

/// Adds the `:observer` members as learners (the leader does this once it leads).
async fn add_observers(shared: &Shared) {
    let raft = shared.log().raft().clone();
    let known = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .clone();
    for m in shared.config.quorum.members.values() {
        if m.role == Role::Observer && known.get_node(&m.id).is_none() {
            if let Err(e) = raft.add_learner(m.id, node(m), false).await {
                tracing::warn!(id = m.id, error = %e, "cannot add observer");
            }
        }
    }
}
