//! Durability, with no knowledge of ZooKeeper: a checksummed, segmented write-ahead log of
//! opaque records keyed by index ([`wal`]), atomically replaced small files for the vote and
//! commit point ([`meta`]), and checksummed snapshot files ([`snapshot`]).
//!
//! Fail-stop rule: any error writing or syncing is returned to the caller, which stops the node;
//! retrying after a failed fsync is unsafe (the kernel may have dropped the dirty pages).

pub mod meta;
pub mod snapshot;
pub mod wal;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What a storage operation was working on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Segment(PathBuf),
    Snapshot(PathBuf),
    Meta(PathBuf),
    Dir(PathBuf),
}

/// What it was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Open,
    Read,
    Write,
    Sync,
    Truncate,
    Remove,
    Rename,
    Verify,
}

/// A storage failure: subject, verb and cause, e.g. "sync log segment …: No space left".
#[derive(Debug)]
pub struct StorageError {
    pub subject: Subject,
    pub op: Op,
    pub source: io::Error,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, p) = match &self.subject {
            Subject::Segment(p) => ("log segment", p),
            Subject::Snapshot(p) => ("snapshot", p),
            Subject::Meta(p) => ("metadata file", p),
            Subject::Dir(p) => ("directory", p),
        };
        write!(f, "{:?} {what} {}: {}", self.op, p.display(), self.source)
    }
}

impl std::error::Error for StorageError {}

impl StorageError {
    /// Builds an error.
    pub fn new(subject: Subject, op: Op, source: io::Error) -> StorageError {
        StorageError {
            subject,
            op,
            source,
        }
    }

    /// A checksum or format problem.
    pub fn corrupt(subject: Subject, why: impl Into<String>) -> StorageError {
        StorageError {
            subject,
            op: Op::Verify,
            source: io::Error::new(io::ErrorKind::InvalidData, why.into()),
        }
    }
}

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::new(Subject::Dir(dir.to_path_buf()), Op::Sync, e))
}
