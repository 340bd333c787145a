//! The client side of the socket: accept loop, one reader and one writer task per connection,
//! the handshake, auth, and the execution of reads in each session's FIFO order.
//!
//! Ordering (ZooKeeper's per-connection FIFO): the reader puts every request on the
//! connection's queue in arrival order: reads as `Read`, writes as a `WriteSlot` placed *before*
//! the write is proposed. The writer answers strictly in that order: it runs a read as soon as no
//! write slot is ahead of it, and holds later reads until the applier has answered the writes
//! before them, so a read always sees its own session's earlier writes. Notifications and auth
//! replies skip the queue; a notification can never overtake the reply of the read that set its
//! watch, because the writer sends that reply before it looks at the queue again.

mod auth;
mod conn;
mod framing;
mod handshake;
mod listener;
pub mod read;
mod writer;

pub use listener::serve;
