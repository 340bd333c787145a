//! Every jute record of the client protocol (3.4–3.9) and of the transaction log, one file per
//! family. Field order is wire order; see zk-protocol-reference.md §1–2, §5, §12.

mod acl;
mod connect;
mod create;
mod header;
mod node;
mod session;
mod stat;
mod txn;
mod watches;

pub use acl::*;
pub use connect::*;
pub use create::*;
pub use header::*;
pub use node::*;
pub use session::*;
pub use stat::*;
pub use txn::*;
pub use watches::*;
