//! Early appends: the leader sends each new entry to its followers while its own fsync of the
//! entry is still running.
//!
//! openraft 0.9's core awaits the local flush of an append before it runs the commands that
//! follow it, so the replication streams see a new entry only once the leader's fsync is done,
//! and every write in an ensemble waits for two fsyncs in series: the leader's, then the
//! followers'. ZooKeeper's leader sends the proposal and logs it in parallel. This module puts
//! the two in parallel here too: the log store hands the leader's fresh entries over as soon as
//! they are readable, and one task per follower sends them as an ordinary AppendEntries request
//! on a connection of its own. A follower appends and fsyncs them then; when openraft's own
//! stream sends the same entries after the leader's flush, the follower already holds them
//! durably and answers at once.
//!
//! ### Correctness
//! Nothing here changes what openraft decides. An early request is exactly an AppendEntries
//! request of the current leader for its own term (its committed vote, the entries' real
//! predecessor, no commit index), so a follower treats it as Raft treats any delayed or repeated
//! request of that leader: entries that match are kept, never truncated. The leader still counts
//! itself for a quorum only after its own fsync (the log store's flush callback), and a
//! follower answers openraft's request only after its fsync, so an entry commits on as many
//! durable copies as before. Answers to early requests are read and dropped. Sending is best
//! effort: a full queue, a dead peer or a lost leadership drops the early copy, and openraft's
//! stream delivers the entries as it always did.

use super::super::{Raft, TypeConfig};
use super::rpc::PeerRequest;
use super::tcp::{connect, read_frame, write_frame, TcpPeers};
use bytes::{Bytes, BytesMut};
use openraft::raft::AppendEntriesRequest;
use openraft::{Entry, LogId, Vote};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Early copies are for small entries: an entry of many txns only forms under load, when the
/// log's batches already keep the leader's and the followers' fsyncs overlapping, and there the
/// second copy of every entry (sent, decoded, matched on the follower) cost 10-15% of the
/// ensemble's write throughput on one shared CPU. Txns per request, and bytes per request.
const MAX_TXNS: usize = 16;
const MAX_BYTES: usize = 64 << 10;
/// Early requests waiting per follower; beyond that the early copy is dropped (the follower is
/// slow or gone, and openraft's stream carries the entries anyway).
const QUEUE: usize = 16;
/// How long a follower that could not be reached is left alone before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// A follower that takes no bytes for this long (stopped, not dead) loses its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The log store's end: where a leader's freshly appended entries go.
#[derive(Clone)]
pub struct EarlyAppends {
    id: u64,
    tx: mpsc::UnboundedSender<AppendEntriesRequest<TypeConfig>>,
}

impl std::fmt::Debug for EarlyAppends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EarlyAppends")
    }
}

/// What [`EarlyAppends::offer`] accepted, for [`EarlyQueue::run`] to send.
pub struct EarlyQueue {
    id: u64,
    rx: mpsc::UnboundedReceiver<AppendEntriesRequest<TypeConfig>>,
}

impl EarlyAppends {
    /// The pair for member `id`: the log store's end and the sending task's.
    pub fn new(id: u64) -> (EarlyAppends, EarlyQueue) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EarlyAppends { id, tx }, EarlyQueue { id, rx })
    }

    /// Hands over `entries` (consecutive, after `prev`) if this member proposed them as leader
    /// in the term of `vote` (its own vote, as saved) and they are small. Entries of other
    /// leaders (a follower's appends) are not this member's to send.
    pub fn offer(
        &self,
        vote: Option<&Vote<u64>>,
        prev: Option<LogId<u64>>,
        entries: Vec<Entry<TypeConfig>>,
    ) {
        let Some(first) = entries.first() else { return };
        let leader = first.log_id.leader_id;
        let txns: usize = entries
            .iter()
            .map(|e| match &e.payload {
                openraft::EntryPayload::Normal(batch) => batch.0.len(),
                _ => 1,
            })
            .sum();
        let ours = txns <= MAX_TXNS
            && leader.node_id == self.id
            && vote.is_some_and(|v| v.leader_id == leader && v.committed)
            && entries.iter().all(|e| e.log_id.leader_id == leader);
        if !ours {
            return;
        }
        let _ = self.tx.send(AppendEntriesRequest {
            vote: Vote::new_committed(leader.term, leader.node_id),
            prev_log_id: prev,
            entries,
            leader_commit: None,
        });
    }
}

impl EarlyQueue {
    /// Sends what the log store offers to every other member of the current membership, while
    /// this member leads the term the entries belong to; ends at `stop`.
    pub async fn run(self, raft: Raft, peers: TcpPeers, stop: CancellationToken) {
        let EarlyQueue { id, mut rx } = self;
        let mut links: HashMap<u64, mpsc::Sender<Bytes>> = HashMap::new();
        loop {
            let req = tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = stop.cancelled() => return,
            };
            let targets: Vec<(u64, String)> = {
                let m = raft.metrics();
                let m = m.borrow();
                if m.current_leader != Some(id) || m.current_term != req.vote.leader_id.term {
                    continue;
                }
                m.membership_config
                    .membership()
                    .nodes()
                    .filter(|(t, _)| **t != id)
                    .map(|(t, node)| (*t, peers.addr_of(*t, node)))
                    .collect()
            };
            if targets.is_empty() {
                continue;
            }
            let mut body = BytesMut::new();
            PeerRequest::Append(req).encode(&mut body);
            if body.len() > MAX_BYTES {
                continue;
            }
            let body = body.freeze();
            for (target, addr) in targets {
                let link = links.entry(target).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(send_to(target, addr, rx, stop.clone()));
                    tx
                });
                // Full: the follower is behind on early copies; this one is dropped.
                let _ = link.try_send(body.clone());
            }
        }
    }
}

/// One follower's sender: writes each request on its own connection and leaves the answers
/// to a reader that drops them, so requests are not held back waiting for the follower's fsync.
async fn send_to(
    target: u64,
    addr: String,
    mut rx: mpsc::Receiver<Bytes>,
    stop: CancellationToken,
) {
    let mut conn: Option<OwnedWriteHalf> = None;
    let mut idle_until: Option<Instant> = None;
    loop {
        let body = tokio::select! {
            b = rx.recv() => match b {
                Some(b) => b,
                None => return,
            },
            _ = stop.cancelled() => return,
        };
        if idle_until.is_some_and(|t| Instant::now() < t) {
            continue;
        }
        idle_until = None;
        if conn.is_none() {
            match connect(&addr).await {
                Ok(s) => {
                    let (mut r, w) = s.into_split();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                f = read_frame(&mut r) => if f.is_err() { return },
                                _ = stop.cancelled() => return,
                            }
                        }
                    });
                    conn = Some(w);
                }
                Err(e) => {
                    tracing::debug!(target, error = %e, "early append: cannot connect");
                    idle_until = Some(Instant::now() + RETRY_AFTER);
                    continue;
                }
            }
        }
        let Some(w) = conn.as_mut() else { continue };
        let sent = tokio::time::timeout(WRITE_TIMEOUT, write_frame(w, &body)).await;
        if let Err(e) = sent.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())) {
            tracing::debug!(target, error = %e, "early append: link lost");
            let _ = w.shutdown().await;
            conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{EntryPayload, LeaderId};

    fn entry(term: u64, leader: u64, index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(LeaderId::new(term, leader), index),
            payload: EntryPayload::Blank,
        }
    }

    #[test]
    fn only_the_leaders_own_entries_of_its_committed_term_go_early() {
        let (early, mut queue) = EarlyAppends::new(1);
        let queue = &mut queue.rx;
        let ours = Vote::new_committed(3, 1);
        let prev = Some(LogId::new(LeaderId::new(3, 1), 9));

        early.offer(Some(&ours), prev, vec![entry(3, 1, 10), entry(3, 1, 11)]);
        let req = queue.try_recv().expect("offered");
        assert_eq!(req.vote, ours);
        assert_eq!(req.prev_log_id, prev);
        assert_eq!(req.entries.len(), 2);
        assert_eq!(req.leader_commit, None);

        // A follower appending another leader's entries.
        early.offer(
            Some(&Vote::new_committed(4, 2)),
            prev,
            vec![entry(4, 2, 10)],
        );
        // This member's old entries, replicated back to it by a later leader.
        early.offer(
            Some(&Vote::new_committed(4, 2)),
            prev,
            vec![entry(3, 1, 10)],
        );
        // A candidate's vote is not a leader's.
        early.offer(Some(&Vote::new(3, 1)), prev, vec![entry(3, 1, 10)]);
        early.offer(None, prev, vec![entry(3, 1, 10)]);
        early.offer(Some(&ours), prev, vec![]);
        assert!(queue.try_recv().is_err());

        // An entry of many txns (formed under load) goes the usual way only.
        let txn = crate::txn::Txn {
            session: 1,
            cxid: 1,
            time_ms: 1,
            auth: vec![],
            op: crate::txn::TxnOp::CloseSession,
        };
        let batch = |n| Entry {
            log_id: LogId::new(LeaderId::new(3, 1), 10),
            payload: EntryPayload::Normal(crate::replication::TxnBatch::new(vec![txn.clone(); n])),
        };
        early.offer(Some(&ours), prev, vec![batch(MAX_TXNS + 1)]);
        assert!(queue.try_recv().is_err());
        early.offer(Some(&ours), prev, vec![batch(MAX_TXNS)]);
        assert!(queue.try_recv().is_ok());
    }
}
