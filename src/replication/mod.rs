//! The log: how a write gets from a connection to `DataTree::apply` and how its outcome gets
//! back. Writes go through an openraft group (one member when standalone; the same code path
//! with more), whose log is `storage::wal` with group commit ([`log_store`]) and whose state
//! machine is the tree ([`state_machine`]). The rest of the server sees [`Log::propose`],
//! [`Log::sync_point`] and the [`Pending`] registry (etcd's wait registry: register, propose,
//! wait for *your own* apply).
//!
//! ```text
//!  conn reader ──propose(txn)──► openraft core ──append──► LogStore ──► WAL thread (write, fsync)
//!       │                           │  ◄────────────── LogFlushed ───────────┘
//!       │ WriteSlot                 └─commit─► StateMachine::apply ─► tree.apply ─► watches.fire
//!       ▼                                                      └─► applier::complete ─► Sink
//!  conn writer ◄────────────────── WriteDone (reply frame) ─────────────────┘
//! ```

mod applier;
pub mod log_store;
pub mod peer;
pub use peer::NoPeers as NoPeersNetwork;
mod pending;
pub mod state_machine;
#[cfg(test)]
mod suite;
pub mod wire;

pub use applier::complete;
pub use pending::{Pending, Waiter};

use crate::txn::Txn;
use openraft::BasicNode;
use std::io::Cursor;

openraft::declare_raft_types!(
    /// rzk's openraft types: the log carries [`Txn`]s; outcomes travel through [`Pending`].
    pub TypeConfig:
        D = Txn,
        R = (),
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
        Responder = Unanswered,
);

/// Proposals are answered through [`Pending`] after the local apply, not through openraft's
/// responder; this one drops openraft's answer. A failed write on a node that stopped being
/// leader is noticed by the connection (its write never completes, then it is closed).
pub struct Unanswered;

impl openraft::raft::responder::Responder<TypeConfig> for Unanswered {
    type Receiver = ();

    fn from_app_data(app_data: Txn) -> (Txn, Self, ()) {
        (app_data, Unanswered, ())
    }

    fn send(self, result: openraft::raft::ClientWriteResult<TypeConfig>) {
        if let Err(e) = result {
            tracing::info!(error = %e, "write not committed by this node");
        }
    }
}

/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// The proposing end of the log.
#[derive(Clone)]
pub struct Log {
    raft: Raft,
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
    /// Wraps a started Raft.
    pub fn new(raft: Raft) -> Log {
        Log { raft }
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
        self.raft
            .client_write_ff(txn)
            .await
            .map(|_| ())
            .map_err(|_| ProposeError::ShuttingDown)
    }

    /// sync: a linearizable read point (openraft's read index, confirmed with a quorum), and
    /// waits until this server has applied it.
    ///
    /// # Errors
    /// [`ProposeError::NotLeader`] when leadership can't be confirmed.
    pub async fn sync_point(&self) -> Result<(), ProposeError> {
        self.raft
            .ensure_linearizable()
            .await
            .map(|_| ())
            .map_err(|_| ProposeError::NotLeader)
    }
}
