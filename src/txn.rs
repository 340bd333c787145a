//! The replicated log entry: a client write stamped with the session, its xid (cxid), the
//! leader's clock and the caller's identities, so that `DataTree::apply` decides the same outcome
//! on every server. The zxid is not stored here: it is derived at apply from the log position
//! (DESIGN.md, "zxid derived at apply").

use zk_codec::records::Id;
use zk_codec::Request;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// The session that issued it (0 for the server's own housekeeping).
    pub session: i64,
    /// The request's xid, echoed in the reply.
    pub cxid: i32,
    /// Wall-clock milliseconds stamped by the leader; becomes ctime/mtime.
    pub time_ms: i64,
    /// The session's identities when it submitted the request (for ACL checks at apply).
    pub auth: Vec<Id>,
    /// What to do.
    pub op: TxnOp,
}

/// The state change an entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// A new session with its negotiated timeout (`Txn::session` is the new id).
    CreateSession { timeout_ms: i32 },
    /// Closing or expiring a session: its ephemerals go with it.
    CloseSession,
    /// A client write: create*, delete, deleteContainer, setData, setACL, multi, reconfig.
    Request(Request),
    /// A write whose body could not be decoded: ZooKeeper still logs an error txn for it, so
    /// it consumes a zxid and answers MarshallingError.
    Malformed,
    /// A write ZooKeeper refuses from clients (deleteContainer): an error txn, BadArguments.
    BadArguments,
}
