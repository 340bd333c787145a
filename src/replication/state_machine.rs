//! openraft's state machine: the tree, applied in log order by openraft's single state-machine
//! worker (the only writer of the tree), plus snapshots of it.
//!
//! Lock order: the tree's write lock, then the watch table's lock; `applied` is only changed
//! while the tree's write lock is held, so a snapshot builder that holds the tree's read lock sees
//! the tree and its log position together (the state exactly at `last_log_id`, never fuzzy).
//!
//! For each committed `Normal` entry: derive the zxid from the entry's term and the last zxid
//! (a new term starts a new epoch at counter 1, as a new ZooKeeper leader does), apply, fire
//! watches, then complete the waiting connection (see `applier::complete`), so notifications
//! are queued before the reply of the write that caused them.

use super::{applier, wire, TypeConfig};
use crate::shared::Shared;
use crate::storage::snapshot::{self as snapfile, SnapshotId};
use crate::tree::{DataTree, Options};
use bytes::{BufMut, BytesMut};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, StorageError, StorageIOError,
    StoredMembership,
};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use zk_codec::DecodeError;

/// The log position the tree reflects.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub last: Option<LogId<u64>>,
    pub membership: StoredMembership<u64, BasicNode>,
}

/// The state machine handle given to openraft (and its snapshot builder).
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    pub applied: Arc<Mutex<Applied>>,
    dir: PathBuf,
    /// Txns applied since the last snapshot was built: snapCount counts txns, as in ZooKeeper,
    /// while openraft's snapshot policy counts entries, which hold many txns under load.
    since_snapshot: Arc<AtomicU64>,
    /// The snapshot start-up rebuilt the tree from. openraft asks for the current snapshot
    /// once while starting and uses only its meta (openraft 0.9 `get_initial_state`), so the
    /// first answer carries the meta and no data instead of reading hundreds of megabytes again;
    /// later requests (a follower to catch up) read the file.
    preloaded: Arc<Mutex<Preloaded>>,
    /// Told the last index applied: the log store keeps entries in memory until then.
    log_applied: Arc<AtomicU64>,
}

/// How long writes must have stopped before an idle snapshot.
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The snapshot start-up loaded: its id and log position.
pub type Preloaded = Option<(SnapshotId, Applied)>;

/// zxid of the next entry: `(term << 32) | counter`, the counter restarting at 1 in a new term.
pub fn next_zxid(last: i64, term: u64) -> i64 {
    let epoch = term as i64;
    if last >> 32 == epoch {
        last + 1
    } else {
        (epoch << 32) | 1
    }
}

fn encode_meta(applied: &Applied, out: &mut BytesMut) {
    match &applied.last {
        Some(id) => {
            out.put_u8(1);
            wire::encode_log_id(id, out);
        }
        None => out.put_u8(0),
    }
    match applied.membership.log_id() {
        Some(id) => {
            out.put_u8(1);
            wire::encode_log_id(id, out);
        }
        None => out.put_u8(0),
    }
    wire::encode_membership(applied.membership.membership(), out);
}

fn decode_opt_log_id(input: &mut &[u8]) -> Result<Option<LogId<u64>>, DecodeError> {
    let (&flag, rest) = input.split_first().ok_or(DecodeError::Truncated)?;
    *input = rest;
    if flag == 1 {
        Ok(Some(wire::decode_log_id(input)?))
    } else {
        Ok(None)
    }
}

fn decode_meta(input: &mut &[u8]) -> Result<Applied, DecodeError> {
    let last = decode_opt_log_id(input)?;
    let m_id = decode_opt_log_id(input)?;
    let m = wire::decode_membership(input)?;
    Ok(Applied {
        last,
        membership: StoredMembership::new(m_id, m),
    })
}

/// Decodes a snapshot payload into its log position and tree, with room for `more` nodes.
///
/// # Errors
/// Malformed payload.
pub fn decode_snapshot(
    mut input: &[u8],
    opts: Options,
    more: usize,
) -> Result<(Applied, DataTree), DecodeError> {
    let input = &mut input;
    let applied = decode_meta(input)?;
    let tree = DataTree::decode_snapshot(input, opts, more)?;
    Ok((applied, tree))
}

fn sm_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::write_state_machine(&std::io::Error::other(e.to_string())).into()
}

impl StateMachine {
    /// A state machine over `shared`'s tree, already holding what `applied` says.
    pub fn new(shared: Arc<Shared>, applied: Applied, dir: PathBuf) -> StateMachine {
        StateMachine {
            shared,
            applied: Arc::new(Mutex::new(applied)),
            dir,
            since_snapshot: Arc::new(AtomicU64::new(0)),
            preloaded: Arc::new(Mutex::new(None)),
            log_applied: Arc::default(),
        }
    }

    /// Reports each applied index to the log store ([`LogStore::applied_marker`]).
    ///
    /// [`LogStore::applied_marker`]: super::log_store::LogStore::applied_marker
    pub fn with_applied_marker(mut self, marker: Arc<AtomicU64>) -> StateMachine {
        self.log_applied = marker;
        self
    }

    /// Hands over the snapshot bytes start-up read (see `preloaded`).
    pub fn with_preloaded(self, preloaded: Preloaded) -> StateMachine {
        *self.preloaded.lock().unwrap_or_else(|e| e.into_inner()) = preloaded;
        self
    }

    /// Asks for a snapshot each time another snapCount txns have been applied since the last
    /// one was started (the counter restarts then). Asking again at every multiple matters:
    /// openraft drops a request that arrives while a snapshot is still being built.
    fn count_towards_snapshot(&self, txns: u64) {
        let limit = self.shared.config.snap_count.max(1);
        let before = self.since_snapshot.fetch_add(txns, Ordering::Relaxed);
        if before / limit != (before + txns) / limit {
            if let Some(log) = self.shared.try_log() {
                let raft = log.raft().clone();
                tokio::spawn(async move {
                    let _ = raft.trigger().snapshot().await;
                });
            }
        }
    }

    /// Starts snapshotting the tree when writes have stopped (see [`StateMachine::idle_snapshots`]).
    pub fn spawn_idle_snapshots(&self) {
        tokio::spawn(self.clone().idle_snapshots());
    }

    /// Asks for a snapshot once no txn has been applied for [`IDLE`] and at least a tenth of
    /// snapCount were applied since the last one. Under load a request that arrives while a
    /// snapshot is being built is skipped (as in ZooKeeper), so up to two snapCounts of txns can
    /// be left for a restart to replay; once writes stop, this bounds it, at no cost while
    /// writes flow.
    async fn idle_snapshots(self) {
        let threshold = (self.shared.config.snap_count / 10).max(1);
        let mut tick = tokio::time::interval(IDLE / 4);
        let (mut seen, mut quiet) = (0u64, 0u32);
        loop {
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = self.since_snapshot.load(Ordering::Relaxed);
            quiet = if now == seen { quiet + 1 } else { 0 };
            seen = now;
            if now >= threshold && quiet >= 4 {
                quiet = 0;
                if let Some(log) = self.shared.try_log() {
                    let _ = log.raft().trigger().snapshot().await;
                }
            }
        }
    }

    fn applied(&self) -> Applied {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    #[allow(clippy::result_large_err)] // openraft's own error type
    fn snapshot_of(
        &self,
        id: SnapshotId,
        applied: &Applied,
        bytes: Vec<u8>,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let snapshot_id = format!("{}-{}", id.term, id.index);
        let meta = SnapshotMeta {
            last_log_id: applied.last,
            last_membership: applied.membership.clone(),
            snapshot_id,
        };
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let started = std::time::Instant::now();
        self.since_snapshot.store(0, Ordering::Relaxed);
        // Only the view is taken under the lock; encoding runs after it is released.
        let (applied, view) = {
            let tree = self.shared.read_tree();
            (self.applied(), tree.snapshot_view())
        };
        let paused = started.elapsed();
        let last = applied.last.unwrap_or_default();
        let id = SnapshotId {
            term: last.leader_id.term,
            index: last.index,
        };
        let dir = self.dir.clone();
        let meta_applied = applied.clone();
        // Encoded straight into the file, chunk by chunk: a payload buffer would be hundreds of
        // megabytes of fresh memory for every snapshot of a large tree.
        let written = tokio::task::spawn_blocking(move || {
            snapfile::write_with(&dir, id, |w| {
                let mut meta = BytesMut::new();
                encode_meta(&meta_applied, &mut meta);
                w.write_all(&meta)?;
                view.encode_to(w)
            })
        })
        .await
        .map_err(sm_err)?;
        let (_, bytes) = written.map_err(sm_err)?;
        {
            use crate::ops::metrics::{count, observe, Basic, Counter};
            observe(Basic::SnapshotTime, started.elapsed().as_millis() as u64);
            count(Counter::SnapCount, 1);
            self.shared.stats.snapshot_taken(self.shared.last_zxid());
        }
        tracing::info!(
            index = last.index,
            bytes,
            apply_paused_ms = paused.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        );
        let meta = SnapshotMeta {
            last_log_id: applied.last,
            last_membership: applied.membership.clone(),
            snapshot_id: format!("{}-{}", id.term, id.index),
        };
        // openraft 0.9 keeps only the meta of a snapshot it had built (core/sm/worker.rs);
        // a follower that needs the data gets it through `get_current_snapshot`, from the file.
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let a = self.applied();
        Ok((a.last, a.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut txns = 0u64;
        let mut count = 0;
        let mut last = None;
        {
            let mut tree = self.shared.write_tree();
            let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
            for entry in entries {
                count += 1;
                applied.last = Some(entry.log_id);
                last = Some(entry.log_id.index);
                match entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Membership(m) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), m)
                    }
                    EntryPayload::Normal(batch) => {
                        for txn in batch.0.iter() {
                            let zxid = next_zxid(tree.last_zxid(), entry.log_id.leader_id.term);
                            let outcome = tree.apply(txn, zxid);
                            {
                                let mut watches = self.shared.lock_watches();
                                for ev in &outcome.events {
                                    watches.fire(ev);
                                }
                            }
                            let (waiter, reads) = self.shared.pending.take(txn.session, txn.cxid);
                            for r in reads {
                                crate::net::read::answer_attached(&self.shared, &tree, r);
                            }
                            // Completed here, txn by txn: a connection's replies and the
                            // notifications it gets stay in the order the txns were applied.
                            applier::complete(&self.shared, txn, zxid, outcome, waiter);
                            txns += 1;
                        }
                    }
                }
            }
        }
        if let Some(index) = last {
            self.log_applied.store(index, Ordering::Release);
        }
        self.count_towards_snapshot(txns);
        Ok(vec![(); count])
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let opts = self.shared.read_tree().options();
        let (applied, tree) = decode_snapshot(&bytes, opts, 0).map_err(sm_err)?;
        let last = meta.last_log_id.unwrap_or_default();
        let id = SnapshotId {
            term: last.leader_id.term,
            index: last.index,
        };
        snapfile::write(&self.dir, id, &bytes).map_err(sm_err)?;
        let mut t = self.shared.write_tree();
        *t = tree;
        *self.applied.lock().unwrap_or_else(|e| e.into_inner()) = applied;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let preloaded = self
            .preloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // The one the tree was rebuilt from: the newest that decodes.
        if let Some((id, applied)) = preloaded {
            return self.snapshot_of(id, &applied, Vec::new());
        }
        for id in snapfile::list(&self.dir) {
            if let Ok(bytes) = snapfile::read(&self.dir, id) {
                if let Ok(applied) = decode_meta(&mut &bytes[..]) {
                    return self.snapshot_of(id, &applied, bytes.to_vec());
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::next_zxid;

    #[test]
    fn zxids_restart_their_counter_in_a_new_term() {
        assert_eq!(next_zxid(0, 1), 0x1_0000_0001);
        assert_eq!(next_zxid(0x1_0000_0001, 1), 0x1_0000_0002);
        assert_eq!(next_zxid(0x1_0000_0005, 3), 0x3_0000_0001);
    }
}
