//! Watch management requests: setWatches(2), addWatch, checkWatches, removeWatches.

use crate::record;

record! {
    /// setWatches (101), sent with xid -8 after a reconnect.
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

record! {
    /// setWatches2 (105): setWatches plus persistent and recursive watches.
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// addWatch (106): mode 0 persistent, 1 persistent recursive.
    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }
}

record! {
    /// checkWatches (17) and removeWatches (18).
    pub struct WatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}

impl From<SetWatches> for SetWatches2 {
    fn from(w: SetWatches) -> SetWatches2 {
        SetWatches2 {
            relative_zxid: w.relative_zxid,
            data_watches: w.data_watches,
            exist_watches: w.exist_watches,
            child_watches: w.child_watches,
            persistent_watches: Vec::new(),
            persistent_recursive_watches: Vec::new(),
        }
    }
}
