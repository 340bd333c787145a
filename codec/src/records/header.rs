//! Headers that precede request and reply bodies, and the watch notification body.

use crate::record;

record! {
    /// Precedes every request after the handshake: `{int xid, int type}`.
    pub struct RequestHeader {
        pub xid: i32,
        /// The op code (see [`crate::OpCode`]); kept raw so that an unknown one can be answered.
        pub op: i32,
    }
}

record! {
    /// Precedes every reply and notification: `{int xid, long zxid, int err}`.
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        pub err: i32,
    }
}

record! {
    /// Precedes each sub-op of a multi request and each result of its reply.
    pub struct MultiHeader {
        /// Sub-op type, -1 for the terminator and for error results.
        pub op: i32,
        pub done: bool,
        pub err: i32,
    }
}

record! {
    /// Body of a notification (xid -1): `{int type, int state, ustring path}`.
    pub struct WatcherEvent {
        pub event_type: i32,
        pub state: i32,
        pub path: String,
    }
}

/// Special xids.
pub mod xid {
    /// Watch notifications sent by the server.
    pub const NOTIFICATION: i32 = -1;
    /// Pings.
    pub const PING: i32 = -2;
    /// Auth packets.
    pub const AUTH: i32 = -4;
    /// setWatches / setWatches2.
    pub const SET_WATCHES: i32 = -8;
}
