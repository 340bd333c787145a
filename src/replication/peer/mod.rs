//! Peer transport for openraft: [`none::NoPeers`] for a standalone server, [`tcp`] for an
//! ensemble (the quorum port of each `server.N` line), and [`early`], the leader's own entries sent
//! ahead of openraft's replication so that its fsync and the followers' overlap.

pub mod early;
pub mod none;
pub mod rpc;
pub mod tcp;

pub use none::NoPeers;

#[cfg(test)]
mod tests;
