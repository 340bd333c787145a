//! openraft's storage conformance suite run against the real log store (WAL files in a
//! temporary directory) and the tree state machine.

use super::log_store::LogStore;
use super::state_machine::{Applied, StateMachine};
use super::TypeConfig;
use crate::config::Config;
use crate::session::Sessions;
use crate::shared::Shared;
use crate::tree::{DataTree, Options};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Removes its directory when the test that used the stores ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Builder {
    next: AtomicUsize,
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = std::env::temp_dir().join(format!(
            "rzk-suite-{}-{}",
            std::process::id(),
            self.next.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = LogStore::open(&dir, 1 << 20, true).expect("open log");
        let shared = Arc::new(Shared::new(
            Config::default(),
            DataTree::new(Options::default()),
            Sessions::new(1, 2000, 0),
        ));
        let sm = StateMachine::new(shared, Applied::default(), dir.join("snapshots"));
        Ok((TempDir(dir), log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder {
        next: AtomicUsize::new(0),
    })
    .expect("storage suite");
}
