//! Node metadata: the 68-byte wire `Stat` and the persisted form without the derived fields.

use crate::record;

record! {
    /// Stat as clients see it (cversion already in its client view).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

record! {
    /// StatPersisted as stored in snapshots (no dataLength, no numChildren).
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}
