//! rzk: a ZooKeeper-compatible server. See DESIGN.md for the map.
pub mod tree;
pub mod txn;
