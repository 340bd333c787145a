//! The log: how a write gets from a connection to `DataTree::apply` and how its outcome gets
//! back. Writes go through an openraft group (one member when standalone; the same code path
//! with more), whose log is `storage::wal` with group commit ([`log_store`]) and whose state
//! machine is the tree ([`state_machine`]). The rest of the server sees [`Log::propose`],
//! [`Log::sync_point`] and the [`Pending`] registry (etcd's wait registry: register, propose,
//! wait for *your own* apply).
//!
//! ```text
//!  conn reader ──propose(txn)──► batcher ──TxnBatch──► openraft core ──append──► LogStore ──► WAL thread (write, fsync)
//!       │                           │  ◄────────────── LogFlushed ───────────┘
//!       │ WriteSlot                 └─commit─► StateMachine::apply ─► tree.apply ─► watches.fire
//!       ▼                                                      └─► applier::complete ─► Sink
//!  conn writer ◄────────────────── WriteDone (reply frame) ─────────────────┘
//! ```

mod applier;
pub mod batcher;
pub mod log_store;
pub mod peer;
pub use peer::NoPeers as NoPeersNetwork;
mod pending;
pub mod state_machine;
#[cfg(test)]
mod suite;
pub mod wire;

pub use applier::complete;
pub use pending::{AttachedRead, Pending, Waiter};

use crate::txn::Txn;
use openraft::BasicNode;
use std::io::Cursor;
use tokio_util::sync::CancellationToken;

openraft::declare_raft_types!(
    /// rzk's openraft types: the log carries [`Txn`]s; outcomes travel through [`Pending`]
    /// after the local apply, so proposals drop openraft's own answer (`client_write_ff`).
    pub TypeConfig:
        D = TxnBatch,
        R = (),
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;

/// What one log entry carries: the txns gathered while the entries before it were being made
/// durable ([`batcher`]), applied in order, each with its own zxid.
/// Shared, so that the copies openraft takes (the log store's window, the entries handed to
/// the state machine, the replication streams) do not copy every txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnBatch(pub std::sync::Arc<Vec<Txn>>);

impl TxnBatch {
    pub fn new(txns: Vec<Txn>) -> TxnBatch {
        TxnBatch(std::sync::Arc::new(txns))
    }
}

/// The proposing end of the log.
#[derive(Clone)]
pub struct Log {
    raft: Raft,
    batcher: batcher::Batcher,
    /// This member's id.
    id: u64,
    /// In an ensemble: the way to the leader for writes and read indexes made on a follower.
    link: Option<std::sync::Arc<peer::tcp::LeaderLink>>,
    /// In an ensemble, whether this member is an observer (a non-voting learner).
    observer: bool,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

/// Why a proposal or sync was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    /// The node is stopping (or stopped on a fatal storage error).
    ShuttingDown,
    /// This node cannot reach a quorum or lost leadership.
    NotLeader,
}

impl Log {
    /// Wraps a started standalone Raft (one member, id 1).
    pub fn new(raft: Raft) -> Log {
        Log {
            batcher: batcher::Batcher::start(raft.clone()),
            raft,
            id: 1,
            link: None,
            observer: false,
        }
    }

    /// Wraps a started ensemble member.
    pub fn ensemble(raft: Raft, id: u64, observer: bool, peers: peer::tcp::TcpPeers) -> Log {
        Log {
            batcher: batcher::Batcher::start(raft.clone()),
            link: Some(std::sync::Arc::new(peer::tcp::LeaderLink::new(
                raft.clone(),
                peers,
            ))),
            raft,
            id,
            observer,
        }
    }

    /// Whether this server is one member of several.
    pub fn is_ensemble(&self) -> bool {
        self.link.is_some()
    }

    /// Whether this member leads (a standalone server always does).
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// Whether this member leads and may act for the ensemble (expire sessions, count as
    /// leading): a standalone server always; an ensemble leader only with a working quorum.
    pub fn leads_with_quorum(&self, within_ms: u64) -> bool {
        self.is_leader() && (!self.is_ensemble() || self.has_quorum(within_ms))
    }

    /// Whether some leader is known (the ensemble has a quorum as far as this member knows).
    pub fn has_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader.is_some()
    }

    /// Whether this member is part of a working quorum: a follower that knows a leader (it
    /// forgets it when its election timer fires), or a
    /// leader that heard from a quorum within `within_ms` and still has links to a quorum
    /// (openraft's leader does not step down by itself when cut off, so this is how a cut-off
    /// leader notices; broken links show it at once, silent ones after `within_ms`).
    pub fn has_quorum(&self, within_ms: u64) -> bool {
        let m = self.raft.metrics().borrow().clone();
        match m.current_leader {
            None => false,
            Some(l) if l == self.id => {
                let acked = m.millis_since_quorum_ack.is_some_and(|ms| ms <= within_ms);
                let health = self.link.as_ref().map(|l| l.health());
                let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
                let reachable = voters
                    .iter()
                    .filter(|v| **v == self.id || health.is_none_or(|h| !h.is_down(**v)))
                    .count();
                acked && reachable * 2 > voters.len()
            }
            Some(_) => true,
        }
    }

    /// ZooKeeper's mode name: standalone, leader, follower or observer.
    pub fn mode(&self) -> &'static str {
        if !self.is_ensemble() {
            "standalone"
        } else if self.is_leader() {
            "leader"
        } else if self.observer {
            "observer"
        } else {
            "follower"
        }
    }

    /// The link to the leader (ensemble members only).
    pub fn link(&self) -> Option<&peer::tcp::LeaderLink> {
        self.link.as_deref()
    }

    /// The Raft handle (for start-up, metrics and shutdown).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Appends `txn`, stamping the leader's clock. Entries are applied in proposal order; the
    /// outcome reaches the waiter registered in [`Pending`].
    ///
    /// # Errors
    /// [`ProposeError::ShuttingDown`] once Raft has stopped.
    pub async fn propose(&self, mut txn: Txn) -> Result<(), ProposeError> {
        txn.time_ms = crate::clock::now_ms();
        if let Some(link) = self.link.as_ref().filter(|_| !self.is_leader()) {
            return link.forward(txn).await.map_err(|_| ProposeError::NotLeader);
        }
        self.batcher
            .submit(txn)
            .map_err(|_| ProposeError::ShuttingDown)
    }

    /// As [`Log::propose`] for a client connection, without waiting on a follower for the
    /// leader to take the write (so the connection can pipeline its writes): if forwarding
    /// fails, `closed` is cancelled, which closes the connection.
    ///
    /// # Errors
    /// [`ProposeError::ShuttingDown`] once Raft has stopped.
    pub fn submit(&self, mut txn: Txn, closed: &CancellationToken) -> Result<(), ProposeError> {
        txn.time_ms = crate::clock::now_ms();
        if let Some(link) = self.link.as_ref().filter(|_| !self.is_leader()) {
            link.enqueue(txn, peer::tcp::OnForward::CloseOnFailure(closed.clone()));
            return Ok(());
        }
        self.batcher
            .submit(txn)
            .map_err(|_| ProposeError::ShuttingDown)
    }

    /// sync: a linearizable read point (openraft's read index, confirmed with a quorum), and
    /// waits until this server has applied it.
    ///
    /// # Errors
    /// [`ProposeError::NotLeader`] when leadership can't be confirmed.
    pub async fn sync_point(&self) -> Result<(), ProposeError> {
        if let Some(link) = self.link.as_ref().filter(|_| !self.is_leader()) {
            let read = link
                .read_index()
                .await
                .map_err(|_| ProposeError::NotLeader)?;
            if let Some(read) = read {
                self.raft
                    .wait(Some(std::time::Duration::from_secs(30)))
                    .applied_index_at_least(Some(read.index), "sync")
                    .await
                    .map_err(|_| ProposeError::NotLeader)?;
            }
            return Ok(());
        }
        self.raft
            .ensure_linearizable()
            .await
            .map(|_| ())
            .map_err(|_| ProposeError::NotLeader)
    }
}
