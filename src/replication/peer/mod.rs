//! Peer transport for openraft: [`none::NoPeers`] for a standalone server, [`tcp`] for an
//! ensemble (the quorum port of each `server.N` line).

pub mod none;
pub mod rpc;
pub mod tcp;

pub use none::NoPeers;

#[cfg(test)]
mod tests;
