//! The log: how a write gets from a connection to `DataTree::apply` on this server, and how its
//! outcome gets back. The rest of the server sees only [`Log::propose`] and the [`Pending`]
//! registry (etcd's wait registry: register, propose, wait for *your own* apply).
//!
//! In this standalone build the log is an ordered in-memory channel into one applier task
//! (`applier.rs`); the durable, replicated log (openraft) slots in behind the same `propose`
//! without touching `tree/`. The applier derives each entry's zxid (last + 1), applies it under
//! the tree's write lock, fires watches under the watch lock (lock order: tree, then watches),
//! then completes the pending waiter, so notifications are queued before the write's reply.

mod applier;
mod pending;

pub use applier::run_applier;
pub use pending::{Pending, Waiter};

use crate::txn::Txn;
use tokio::sync::mpsc;

/// How many proposals may wait for the applier before proposers wait.
pub const PROPOSAL_QUEUE: usize = 64 * 1024;

/// The proposing end of the log.
#[derive(Debug, Clone)]
pub struct Log {
    tx: mpsc::Sender<Txn>,
}

/// Why a proposal was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    /// The server is shutting down.
    ShuttingDown,
}

impl Log {
    /// A log and the receiving end for [`run_applier`].
    pub fn new() -> (Log, mpsc::Receiver<Txn>) {
        let (tx, rx) = mpsc::channel(PROPOSAL_QUEUE);
        (Log { tx }, rx)
    }

    /// Appends `txn`, stamping the leader's clock. Entries are applied in proposal order.
    ///
    /// # Errors
    /// [`ProposeError::ShuttingDown`] once the applier has stopped.
    pub async fn propose(&self, mut txn: Txn) -> Result<(), ProposeError> {
        txn.time_ms = crate::clock::now_ms();
        self.tx
            .send(txn)
            .await
            .map_err(|_| ProposeError::ShuttingDown)
    }
}
