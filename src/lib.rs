//! rzk: a ZooKeeper-compatible server. DESIGN.md has the map; in short, from the bottom up:
//!
//! - [`tree`]: the data tree and its deterministic `apply`; [`txn`]: the log entry.
//! - [`watch`]: watches, local to this server; [`session`]: session liveness and expiry.
//! - [`sink`]: the per-connection outbound queue everything above pushes into.
//! - [`replication`]: the log from `propose` to `apply` and back to the waiting connection.
//! - [`net`]: sockets, handshake, per-session ordering, reads.
//! - [`ops`]: four-letter words and counters; [`housekeeping`]: expiry and container reaping.
//! - [`config`], [`shared`], [`server`]: configuration, shared handles, wiring.
//! - [`bench`]: `rzk bench`, the load generator (a client; nothing above uses it).

pub mod allocator;
pub mod bench;
pub mod clock;
pub mod config;
pub mod ensemble;
pub mod housekeeping;
pub mod idle_poll;
pub mod net;
pub mod ops;
pub mod os_memory;
pub mod replication;
pub mod server;
pub mod session;
pub mod shared;
pub mod sink;
pub mod storage;
pub mod tree;
pub mod txn;
pub mod watch;
