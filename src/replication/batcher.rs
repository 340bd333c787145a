//! Group commit above openraft: openraft 0.9 appends one log entry at a time and waits for
//! that append's fsync before it takes the next client write, so one write per entry would
//! cap throughput at one write per fsync. The batcher queues proposals in arrival order and,
//! while earlier entries are still being made durable, gathers everything that arrives into the
//! next entry (ZooKeeper's SyncRequestProcessor does the same with its txn log). Entries stay
//! in proposal order, and each txn still gets its own zxid at apply.

use super::{Raft, TxnBatch};
use crate::txn::{Txn, TxnOp};
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use zk_codec::{MultiOp, Request};

/// Entries handed to openraft and not yet applied: one being made durable, the next waiting
/// behind it. More would only make the waiting entries smaller.
const IN_FLIGHT: usize = 2;
/// Caps on one entry: a count, and bytes so that an entry stays far below the peer transport's
/// frame limit even with jute.maxbuffer-sized values.
const MAX_TXNS: usize = 1000;
const MAX_BYTES: usize = 512 << 10;

/// The proposing end: clones share one queue.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Txn>,
}

/// Raft has stopped; nothing more will be appended.
#[derive(Debug, Clone, Copy)]
pub struct Stopped;

impl Batcher {
    /// Starts the batching task in front of `raft` (call from within the tokio runtime).
    pub fn start(raft: Raft) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, rx));
        Batcher { tx }
    }

    /// Queues `txn` behind every earlier proposal.
    ///
    /// # Errors
    /// [`Stopped`] once the batching task has ended (Raft shut down).
    pub fn submit(&self, txn: Txn) -> Result<(), Stopped> {
        self.tx.send(txn).map_err(|_| Stopped)
    }
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<Txn>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carry: Option<Txn> = None;
    loop {
        let first = match carry.take() {
            Some(t) => t,
            None => match rx.recv().await {
                Some(t) => t,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Everything that queued up while the slot was busy joins this entry.
        let mut bytes = approx_size(&first);
        let mut batch = vec![first];
        while batch.len() < MAX_TXNS {
            let Ok(t) = rx.try_recv() else { break };
            let size = approx_size(&t);
            if bytes + size > MAX_BYTES {
                carry = Some(t);
                break;
            }
            bytes += size;
            batch.push(t);
        }
        // ZooKeeper's name for the txns one log flush makes durable.
        use crate::ops::metrics::{observe, Basic};
        observe(Basic::SyncProcessorBatchSize, batch.len() as u64);
        // Sent from this one task, so entries keep the order of the proposals.
        let Ok(done) = raft.client_write_ff(TxnBatch::new(batch)).await else {
            return;
        };
        tokio::spawn(async move {
            let _ = done.await;
            drop(slot);
        });
    }
}

/// Roughly the bytes a txn takes in the log: its values dominate.
fn approx_size(t: &Txn) -> usize {
    let value = |d: &Option<bytes::Bytes>| d.as_ref().map_or(0, bytes::Bytes::len);
    let data = |r: &Request| match r {
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => {
            c.path.len() + value(&c.data)
        }
        Request::CreateTtl(c) => c.path.len() + value(&c.data),
        Request::SetData(s) => s.path.len() + value(&s.data),
        _ => 64,
    };
    64 + match &t.op {
        TxnOp::Request(Request::Multi(m)) => m
            .ops
            .iter()
            .map(|op| {
                32 + op.path().len()
                    + match op {
                        MultiOp::Create(c) | MultiOp::Create2(c) | MultiOp::CreateContainer(c) => {
                            value(&c.data)
                        }
                        MultiOp::CreateTtl(c) => value(&c.data),
                        MultiOp::SetData(s) => value(&s.data),
                        _ => 0,
                    }
            })
            .sum(),
        TxnOp::Request(r) => data(r),
        _ => 0,
    }
}
