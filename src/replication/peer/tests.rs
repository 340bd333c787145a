//! Three in-process Raft members over the TCP peer transport on loopback: election,
//! replication to every tree, leader loss and re-election, and catch-up by a restarted member
//! through a snapshot transfer; early appends (a follower holds a new entry while the leader's
//! own sync of it is still running).

use super::early::EarlyAppends;
use super::tcp::{self, TcpPeers};
use crate::config::Config;
use crate::replication::log_store::LogStore;
use crate::replication::state_machine::{Applied, StateMachine};
use crate::replication::Raft;
use crate::replication::TxnBatch;
use crate::session::Sessions;
use crate::shared::Shared;
use crate::tree::{DataTree, Options};
use crate::txn::{Txn, TxnOp};
use openraft::BasicNode;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zk_codec::records::{Acl, CreateRequest};
use zk_codec::Request;

struct Member {
    raft: Raft,
    log: LogStore,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Member {
    /// Stops its peer listener, early appends and Raft.
    async fn halt(&self) {
        self.stop.cancel();
        let _ = self.raft.shutdown().await;
    }
}

fn raft_config() -> Arc<openraft::Config> {
    Arc::new(
        openraft::Config {
            cluster_name: "rzk-test".into(),
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            // Small snapshots and no kept log, so a member that was away needs a snapshot.
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(5),
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            ..Default::default()
        }
        .validate()
        .unwrap(),
    )
}

async fn start(id: u64, dir: &PathBuf, listener: TcpListener) -> Member {
    std::fs::create_dir_all(dir).unwrap();
    let (early, early_queue) = EarlyAppends::new(id);
    let log = LogStore::open(dir, 1 << 20, false)
        .unwrap()
        .with_early_appends(early);
    let shared = Arc::new(Shared::new(
        Config::default(),
        DataTree::new(Options::default()),
        Sessions::new(id as u8, 2000, 0),
    ));
    let sm = StateMachine::new(shared.clone(), Applied::default(), dir.join("snapshots"));
    let raft = Raft::new(id, raft_config(), TcpPeers::default(), log.clone(), sm)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(early_queue.run(raft.clone(), TcpPeers::default(), stop.clone()));
    let sessions = shared.clone();
    let touch = Arc::new(move |ids: &[i64]| {
        for id in ids {
            sessions.sessions.touch(*id, crate::clock::now_ms());
        }
    });
    tokio::spawn(tcp::serve(id, raft.clone(), touch, listener, stop.clone()));
    Member {
        raft,
        log,
        shared,
        stop,
    }
}

fn create(path: &str) -> Txn {
    Txn {
        session: 0,
        cxid: 0,
        time_ms: 1,
        auth: vec![],
        op: TxnOp::Request(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(bytes::Bytes::from_static(b"v")),
            acl: Acl::open_unsafe(),
            flags: 0,
        })),
    }
}

async fn leader(members: &BTreeMap<u64, Member>) -> u64 {
    let any = members.values().next().unwrap();
    let m = any
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |m| m.current_leader.is_some_and(|l| members.contains_key(&l)),
            "a live leader",
        )
        .await
        .unwrap();
    m.current_leader.unwrap()
}

async fn wait_has(m: &Member, path: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut rx = m.raft.metrics();
    while m.shared.read_tree().node(path).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never applied"
        );
        let _ = tokio::time::timeout(Duration::from_millis(100), rx.changed()).await;
    }
}

/// Three fresh members under `root` on loopback, initialized; their addresses.
async fn three(root: &PathBuf) -> (BTreeMap<u64, Member>, BTreeMap<u64, BasicNode>) {
    let _ = std::fs::remove_dir_all(root);
    let mut listeners = BTreeMap::new();
    let mut nodes = BTreeMap::new();
    for id in 1..=3u64 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        nodes.insert(id, BasicNode { addr });
        listeners.insert(id, l);
    }
    let mut members = BTreeMap::new();
    for (id, l) in listeners {
        members.insert(id, start(id, &root.join(id.to_string()), l).await);
    }
    members[&1].raft.initialize(nodes.clone()).await.unwrap();
    (members, nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_and_survive_leader_loss() {
    let root = std::env::temp_dir().join(format!("rzk-peers-{}", std::process::id()));
    let (mut members, nodes) = three(&root).await;

    let first = leader(&members).await;
    members[&first]
        .raft
        .client_write_ff(TxnBatch::new(vec![create("/a")]))
        .await
        .unwrap();
    for m in members.values() {
        wait_has(m, "/a").await;
    }

    // Lose the leader: the other two elect a new one and keep committing.
    let gone = members.remove(&first).unwrap();
    gone.stop.cancel();
    gone.raft.shutdown().await.unwrap();
    drop(gone);
    let second = leader(&members).await;
    assert_ne!(second, first);
    for i in 0..20 {
        members[&second]
            .raft
            .client_write_ff(TxnBatch::new(vec![create(&format!("/b{i}"))]))
            .await
            .unwrap();
    }
    for m in members.values() {
        wait_has(m, "/b19").await;
    }
    members[&second]
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index > 2),
            "the leader purges behind a snapshot",
        )
        .await
        .unwrap();

    // The old leader comes back on its data directory and catches up from a snapshot.
    let l = TcpListener::bind(&nodes[&first].addr).await.unwrap();
    let back = start(first, &root.join(first.to_string()), l).await;
    wait_has(&back, "/b19").await;
    assert_eq!(
        back.shared.read_tree().node("/a").map(|n| n.data),
        members[&second]
            .shared
            .read_tree()
            .node("/a")
            .map(|n| n.data)
    );
    for m in members.values().chain(std::iter::once(&back)) {
        m.halt().await;
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Waits until `m`'s Raft has accepted the entry at `index` into its log.
async fn wait_logged(m: &Member, index: u64) {
    m.raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |x| x.last_log_index.is_some_and(|i| i >= index),
            "the entry logged",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_log_an_entry_while_the_leader_still_syncs_it() {
    let root = std::env::temp_dir().join(format!("rzk-early-{}", std::process::id()));
    let (members, _) = three(&root).await;
    let lead = leader(&members).await;
    members[&lead]
        .raft
        .client_write_ff(TxnBatch::new(vec![create("/warm")]))
        .await
        .unwrap();
    for m in members.values() {
        wait_has(m, "/warm").await;
    }

    // The leader's WAL thread stops before the next append: its entry stays unsynced there,
    // and openraft's own replication (which waits for that sync) sends nothing.
    let release = members[&lead].log.hold_writes();
    let before = members[&lead]
        .raft
        .metrics()
        .borrow()
        .last_log_index
        .unwrap();
    members[&lead]
        .raft
        .client_write_ff(TxnBatch::new(vec![create("/early")]))
        .await
        .unwrap();
    for (id, m) in &members {
        if *id != lead {
            wait_logged(m, before + 1).await;
        }
    }
    // Logged on both followers, yet not committed: the leader counts itself only once synced.
    for m in members.values() {
        assert!(m.shared.read_tree().node("/early").is_none());
    }
    let applied = members[&lead].raft.metrics().borrow().last_applied;
    assert!(applied.is_some_and(|a| a.index <= before));

    drop(release);
    for m in members.values() {
        wait_has(m, "/early").await;
    }
    for m in members.values() {
        m.halt().await;
    }
    let _ = std::fs::remove_dir_all(&root);
}
