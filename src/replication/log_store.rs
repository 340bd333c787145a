//! openraft's log storage over `storage::wal`, with group commit.
//!
//! Entries are kept in memory (readable as soon as `append` returns), the newest
//! [`IN_MEMORY`] of them only: older ones are read back from the segment files when openraft
//! asks (a lagging follower, a restart's replay), so memory does not grow with the log between
//! snapshots. Every entry's log id stays in memory. Entries are handed to one WAL
//! thread, which writes every command queued so far, fsyncs once, and only then reports the
//! appends durable through their `LogFlushed` callbacks (ZooKeeper's SyncRequestProcessor). All
//! write I/O (append, truncate, purge, vote) goes through that thread in call order, as openraft
//! requires.
//!
//! ### Correctness
//! - An append is acknowledged only after the fsync that covers it (unless forceSync=no).
//! - Any storage error stops the process (fail-stop): retrying after a failed fsync is unsafe.

use super::peer::early::EarlyAppends;
use super::{wire, TypeConfig};
use crate::storage::wal::Wal;
use crate::storage::{meta, StorageError as DiskError};
use bytes::BytesMut;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, StorageError, StorageIOError, Vote};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

type E = Entry<TypeConfig>;

/// At most this many entries (each a batch of up to 1000 txns) are kept decoded in memory...
const IN_MEMORY: usize = 256;

/// ...and, of those already applied, at most this many bytes of their log records: decoded, a
/// txn takes about three times its record (its request's own allocations, the session's
/// identities), and 256 batches of a create load held 33 MB, i.e. 33 bytes per znode of a
/// 1M-znode server that had just been loaded; at 1 MiB still ~7 MB (7 bytes per znode, when a
/// znode costs ~140 in all), so 256 KiB. Entries not yet applied stay, as the state machine is
/// about to read them (reading them back from the log file, behind the fsyncs, cost 5% of
/// create throughput). An entry read after it was dropped comes back from the file.
const IN_MEMORY_BYTES: usize = 256 << 10;

type ReadBack = Result<Vec<(u64, Vec<u8>)>, DiskError>;

enum Cmd {
    Append(Vec<(u64, Vec<u8>)>, LogFlushed<TypeConfig>),
    Read(Vec<u64>, oneshot::Sender<ReadBack>),
    Truncate(u64, oneshot::Sender<()>),
    Purge(u64),
    Vote(Vec<u8>, oneshot::Sender<()>),
    /// Tests: the WAL thread waits until the sender is dropped.
    #[cfg(test)]
    Hold(mpsc::Receiver<()>),
}

#[derive(Debug, Default)]
struct Inner {
    /// Every entry not purged, by index.
    ids: BTreeMap<u64, LogId<u64>>,
    /// The newest of them, decoded, each with the length of its log record.
    entries: BTreeMap<u64, (E, usize)>,
    /// The sum of those lengths.
    entry_bytes: usize,
    last_purged: Option<LogId<u64>>,
    vote: Option<Vote<u64>>,
}

/// The log store; clones share the same log (the clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    tx: mpsc::Sender<Cmd>,
    /// In an ensemble: where this member's own entries go to reach the followers while the
    /// WAL thread syncs them ([`super::peer::early`]).
    early: Option<EarlyAppends>,
    /// The last index the state machine applied ([`LogStore::applied_marker`]).
    applied: Arc<AtomicU64>,
}

fn fatal(e: &DiskError) -> ! {
    tracing::error!(error = %e, "storage failure, stopping");
    std::process::exit(70);
}

impl LogStore {
    /// Opens the log in `dir` (recovering a torn tail) and starts the WAL thread.
    ///
    /// # Errors
    /// Corruption before the tail, an undecodable entry, or I/O failures.
    pub fn open(dir: &Path, segment_bytes: u64, force_sync: bool) -> Result<LogStore, DiskError> {
        Self::open_after(dir, segment_bytes, force_sync, None)
    }

    /// As [`LogStore::open`], keeping every entry after `applied` (the snapshot's last index) decoded (they are about to
    /// be replayed into the state machine, so reading them back from disk would decode them a
    /// second time); older entries only have their log id read (their checksums were
    /// verified by [`Wal::open`]), except the newest [`IN_MEMORY`]. The window shrinks back at
    /// the first append.
    ///
    /// # Errors
    /// As [`LogStore::open`].
    pub fn open_after(
        dir: &Path,
        segment_bytes: u64,
        force_sync: bool,
        applied: Option<u64>,
    ) -> Result<LogStore, DiskError> {
        let log_dir = dir.join("log");
        // Only the log ids are kept while reading; which entries to decode is known once the
        // last index is: those after `applied` and the newest IN_MEMORY.
        let mut ids: Vec<(u64, LogId<u64>)> = Vec::new();
        let mut tail: Vec<(u64, (Entry<TypeConfig>, usize))> = Vec::new();
        let mut wal = Wal::open_visiting(&log_dir, segment_bytes, &mut |index, bytes| {
            let corrupt = |err| corrupt_entry(dir, index, err);
            if applied.is_some_and(|a| index > a) {
                let e = wire::decode_entry(bytes).map_err(corrupt)?;
                ids.push((index, e.log_id));
                tail.push((index, (e, bytes.len())));
            } else {
                ids.push((
                    index,
                    wire::decode_log_id(&mut &bytes[..]).map_err(corrupt)?,
                ));
            }
            Ok(())
        })?;
        let vote_path = dir.join("vote");
        let vote = meta::read(&vote_path)?
            .map(|b| wire::decode_vote(&b))
            .transpose()
            .map_err(|e| {
                DiskError::corrupt(
                    crate::storage::Subject::Meta(vote_path.clone()),
                    e.to_string(),
                )
            })?;
        let mut inner = Inner {
            vote,
            ..Default::default()
        };
        // The newest stay decoded even when the snapshot covers them (a follower a moment
        // behind reads them), within the same bounds as while running; they are few, so read
        // back.
        let decoded_from = tail.first().map_or(u64::MAX, |(i, _)| *i);
        let window_from = ids.len().saturating_sub(IN_MEMORY);
        let mut budget = IN_MEMORY_BYTES.saturating_sub(tail.iter().map(|(_, (_, n))| n).sum());
        for (index, _) in ids[window_from..]
            .iter()
            .rev()
            .filter(|(i, _)| *i < decoded_from)
        {
            let bytes = wal.read(*index)?;
            let Some(left) = budget.checked_sub(bytes.len()) else {
                break;
            };
            budget = left;
            let e = wire::decode_entry(&bytes).map_err(|err| corrupt_entry(dir, *index, err))?;
            inner.entries.insert(*index, (e, bytes.len()));
        }
        inner.ids.extend(ids);
        inner.entries.extend(tail);
        inner.count_entry_bytes();
        if let Some((_, first)) = inner.ids.first_key_value() {
            // Everything before the first kept entry was purged after a snapshot.
            if first.index > 0 {
                inner.last_purged = Some(LogId::new(first.leader_id, first.index - 1));
            }
        }
        let (tx, rx) = mpsc::channel::<Cmd>();
        let vote_file = vote_path.clone();
        std::thread::Builder::new()
            .name("rzk-wal".into())
            .spawn(move || wal_thread(&mut wal, rx, force_sync, &vote_file))
            .map_err(|e| {
                DiskError::new(
                    crate::storage::Subject::Dir(dir.to_path_buf()),
                    crate::storage::Op::Open,
                    e,
                )
            })?;
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
            tx,
            early: None,
            applied: Arc::default(),
        })
    }

    /// Sends this member's own new entries to its followers as they are appended.
    #[must_use]
    pub fn with_early_appends(mut self, early: EarlyAppends) -> LogStore {
        self.early = Some(early);
        self
    }

    /// Where the state machine records the last index it applied, so that the entries up to
    /// it may be dropped from memory.
    pub fn applied_marker(&self) -> Arc<AtomicU64> {
        self.applied.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tests: holds every write queued after this call (appends are readable but not made
    /// durable) until the returned sender is dropped.
    #[cfg(test)]
    pub(crate) fn hold_writes(&self) -> mpsc::Sender<()> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Cmd::Hold(rx)).expect("WAL thread running");
        tx
    }

    /// Whether the log holds any entry or vote (a node that has run before).
    pub fn is_empty(&self) -> bool {
        let g = self.lock();
        g.ids.is_empty() && g.vote.is_none() && g.last_purged.is_none()
    }

    /// How many txns the decoded entries after `index` carry (start-up sizes the tree with it).
    pub fn txns_after(&self, index: u64) -> usize {
        self.lock()
            .entries
            .range(index + 1..)
            .map(|(_, (e, _))| match &e.payload {
                openraft::EntryPayload::Normal(batch) => batch.0.len(),
                _ => 0,
            })
            .sum()
    }

    /// The first index the log holds, and the last index purged from it.
    pub fn first_and_purged(&self) -> (Option<u64>, Option<u64>) {
        let g = self.lock();
        (
            g.ids.first_key_value().map(|(i, _)| *i),
            g.last_purged.map(|l| l.index),
        )
    }

    /// Sets the purge point found from a snapshot at start-up when the log is empty.
    pub fn set_purged_if_empty(&self, id: Option<LogId<u64>>) {
        let mut g = self.lock();
        if g.ids.is_empty() && g.last_purged.is_none() {
            g.last_purged = id;
        }
    }
}

/// A log entry that does not decode.
fn corrupt_entry(dir: &Path, index: u64, err: zk_codec::DecodeError) -> DiskError {
    DiskError::corrupt(
        crate::storage::Subject::Dir(dir.to_path_buf()),
        format!("entry {index}: {err}"),
    )
}

fn wal_thread(wal: &mut Wal, rx: mpsc::Receiver<Cmd>, force_sync: bool, vote_file: &Path) {
    while let Ok(first) = rx.recv() {
        let mut flushed = Vec::new();
        let mut cmds = vec![first];
        while let Ok(c) = rx.try_recv() {
            cmds.push(c);
        }
        for cmd in cmds {
            let r = match cmd {
                Cmd::Append(records, cb) => {
                    flushed.push(cb);
                    wal.append(records.iter().map(|(i, d)| (*i, d.as_slice())))
                }
                Cmd::Truncate(index, ack) => {
                    let r = wal.truncate(index);
                    let _ = ack.send(());
                    r
                }
                Cmd::Purge(index) => wal.purge(index),
                #[cfg(test)]
                Cmd::Hold(release) => {
                    let _ = release.recv();
                    Ok(())
                }
                Cmd::Read(indexes, reply) => {
                    let r = indexes
                        .into_iter()
                        .map(|i| wal.read(i).map(|bytes| (i, bytes)))
                        .collect();
                    let _ = reply.send(r);
                    Ok(())
                }
                Cmd::Vote(bytes, ack) => {
                    let r = wal
                        .sync(force_sync)
                        .and_then(|_| meta::write(vote_file, &bytes));
                    let _ = ack.send(());
                    r
                }
            };
            if let Err(e) = r {
                fatal(&e);
            }
        }
        let sync_started = std::time::Instant::now();
        // Keeps this CPU awake through the fsync and the apply after it (`idle_poll`).
        crate::idle_poll::touch();
        if let Err(e) = wal.sync(force_sync) {
            fatal(&e);
        }
        crate::idle_poll::touch();
        if !flushed.is_empty() {
            use crate::ops::metrics::{observe, Basic};
            observe(Basic::FsyncTime, sync_started.elapsed().as_millis() as u64);
        }
        for cb in flushed {
            cb.log_io_completed(Ok(()));
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::write_logs(&std::io::Error::other(e.to_string())).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<E>, StorageError<u64>> {
        let (mut found, missing): (BTreeMap<u64, E>, Vec<u64>) = {
            let g = self.lock();
            let mut found = BTreeMap::new();
            let mut missing = Vec::new();
            for &index in g.ids.range(range).map(|(i, _)| i) {
                match g.entries.get(&index) {
                    Some((e, _)) => {
                        found.insert(index, e.clone());
                    }
                    None => missing.push(index),
                }
            }
            (found, missing)
        };
        if !missing.is_empty() {
            let (tx, rx) = oneshot::channel();
            self.tx.send(Cmd::Read(missing, tx)).map_err(read_err)?;
            for (index, bytes) in rx.await.map_err(read_err)?.map_err(read_err)? {
                found.insert(index, wire::decode_entry(&bytes).map_err(read_err)?);
            }
        }
        Ok(found.into_values().collect())
    }
}

fn read_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::read_logs(&std::io::Error::other(e.to_string())).into()
}

impl Inner {
    /// Drops the oldest decoded entries beyond [`IN_MEMORY`], and applied ones (up to
    /// `applied`) beyond [`IN_MEMORY_BYTES`] (they stay on disk).
    fn evict(&mut self, applied: u64) {
        while let Some((&oldest, _)) = self.entries.first_key_value() {
            let over_bytes = self.entry_bytes > IN_MEMORY_BYTES && oldest <= applied;
            if self.entries.len() <= IN_MEMORY && !over_bytes {
                break;
            }
            if let Some((_, (_, n))) = self.entries.pop_first() {
                self.entry_bytes -= n;
            }
        }
    }

    /// Recomputes [`Inner::entry_bytes`] after entries were split off.
    fn count_entry_bytes(&mut self) {
        self.entry_bytes = self.entries.values().map(|(_, n)| n).sum();
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let g = self.lock();
        let last = g.ids.last_key_value().map(|(_, id)| *id).or(g.last_purged);
        Ok(LogState {
            last_purged_log_id: g.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.lock().vote = Some(*vote);
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Vote(wire::encode_vote(vote), tx))
            .map_err(io_err)?;
        rx.await.map_err(io_err)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.lock().vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = E> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut records = Vec::new();
        let mut early = Vec::new();
        let (vote, prev) = {
            let mut g = self.lock();
            // Ensemble only: the first entry's predecessor, `Some(None)` when it starts the log,
            // `None` when not known here (then nothing goes early).
            let mut prev = None;
            for e in entries {
                if self.early.is_some() && records.is_empty() {
                    prev = match e.log_id.index.checked_sub(1) {
                        None => Some(None),
                        Some(i) => g
                            .ids
                            .get(&i)
                            .copied()
                            .or(g.last_purged.filter(|p| p.index == i))
                            .map(Some),
                    };
                }
                let mut out = BytesMut::with_capacity(128);
                wire::encode_entry(&e, &mut out);
                let len = out.len();
                records.push((e.log_id.index, out.to_vec()));
                g.ids.insert(e.log_id.index, e.log_id);
                if self.early.is_some() {
                    early.push(e.clone());
                }
                if let Some((_, old)) = g.entries.insert(e.log_id.index, (e, len)) {
                    g.entry_bytes -= old;
                }
                g.entry_bytes += len;
            }
            g.evict(self.applied.load(Ordering::Acquire));
            (g.vote, prev)
        };
        self.tx
            .send(Cmd::Append(records, callback))
            .map_err(io_err)?;
        if let (Some(to), Some(prev)) = (&self.early, prev) {
            to.offer(vote.as_ref(), prev, early);
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        {
            let mut g = self.lock();
            g.entries.split_off(&log_id.index);
            g.count_entry_bytes();
            g.ids.split_off(&log_id.index);
        }
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Truncate(log_id.index, tx))
            .map_err(io_err)?;
        rx.await.map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        {
            let mut g = self.lock();
            let keep = g.entries.split_off(&(log_id.index + 1));
            g.entries = keep;
            g.count_entry_bytes();
            let keep = g.ids.split_off(&(log_id.index + 1));
            g.ids = keep;
            g.last_purged = Some(log_id);
        }
        self.tx.send(Cmd::Purge(log_id.index)).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{EntryPayload, LeaderId};

    fn blank(i: u64) -> E {
        Entry {
            log_id: LogId::new(LeaderId::new(1 + i / 100, 1), i),
            payload: EntryPayload::Blank,
        }
    }

    #[test]
    fn decoded_entries_are_bounded_by_count_and_applied_ones_by_log_bytes() {
        let mut g = Inner::default();
        let add = |g: &mut Inner, i: u64, n: usize| {
            g.entries.insert(i, (blank(i), n));
            g.entry_bytes += n;
            // Applied up to the one before.
            g.evict(i - 1);
        };
        let keys = |g: &Inner| g.entries.keys().copied().collect::<Vec<_>>();
        let tenth = IN_MEMORY_BYTES / 10;
        for i in 1..=10 {
            add(&mut g, i, 3 * tenth);
        }
        assert_eq!(keys(&g), [8, 9, 10]);
        assert_eq!(g.entry_bytes, 9 * tenth);
        add(&mut g, 11, 5 * IN_MEMORY_BYTES);
        assert_eq!(keys(&g), [11], "the newest stays whatever its size");
        // Not yet applied: kept beyond the bytes, not beyond the count.
        for i in 12..=14 {
            g.entries.insert(i, (blank(i), IN_MEMORY_BYTES));
            g.entry_bytes += IN_MEMORY_BYTES;
            g.evict(11);
        }
        assert_eq!(keys(&g), [12, 13, 14]);
        for i in 15..12 + IN_MEMORY as u64 * 2 {
            add(&mut g, i, 10);
        }
        assert_eq!(g.entries.len(), IN_MEMORY);
        assert_eq!(g.entry_bytes, IN_MEMORY * 10);
        g.entries.split_off(&(12 + IN_MEMORY as u64 * 2 - 5));
        g.count_entry_bytes();
        assert_eq!(g.entry_bytes, (IN_MEMORY - 5) * 10);
    }

    #[tokio::test]
    async fn reopened_store_keeps_the_replay_decoded_and_reads_older_entries_back() {
        let dir = std::env::temp_dir().join(format!("rzk-logstore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let total = IN_MEMORY as u64 + 300;
        {
            let (mut wal, _) = Wal::open(&dir.join("log"), 1 << 20).unwrap();
            let records: Vec<(u64, Vec<u8>)> = (1..=total)
                .map(|i| {
                    let mut out = BytesMut::new();
                    wire::encode_entry(&blank(i), &mut out);
                    (i, out.to_vec())
                })
                .collect();
            wal.append(records.iter().map(|(i, r)| (*i, r.as_slice())))
                .unwrap();
            wal.sync(true).unwrap();
        }
        // A snapshot covers the first 10: the 290 + 256 after it stay decoded for the replay.
        let mut store = LogStore::open_after(&dir, 1 << 20, false, Some(10)).unwrap();
        {
            let g = store.lock();
            assert_eq!(g.ids.len() as u64, total);
            assert_eq!(g.entries.len() as u64, total - 10);
            assert_eq!(g.ids[&150].leader_id, LeaderId::new(2, 1));
        }
        let all = store.try_get_log_entries(1..=total).await.unwrap();
        let indexes: Vec<u64> = all.iter().map(|e| e.log_id.index).collect();
        assert_eq!(indexes, (1..=total).collect::<Vec<_>>());
        assert_eq!(all[149].log_id.leader_id, LeaderId::new(2, 1));
        drop(store);
        // Without a known snapshot point only the newest IN_MEMORY are decoded.
        let store = LogStore::open(&dir, 1 << 20, false).unwrap();
        {
            let g = store.lock();
            assert_eq!(g.entries.len(), IN_MEMORY);
            let first = *g.entries.keys().next().unwrap();
            assert_eq!(first, total - IN_MEMORY as u64 + 1, "the newest, not any");
            let record = |i| {
                let mut out = BytesMut::new();
                wire::encode_entry(&blank(i), &mut out);
                out.len()
            };
            assert_eq!(g.entry_bytes, (first..=total).map(record).sum::<usize>());
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
