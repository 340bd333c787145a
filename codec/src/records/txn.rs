//! Transaction records of ZooKeeper's log (and of rzk's replicated log entries): the header and
//! one record per txn type. Layouts follow zk-protocol-reference.md §12.2.

use super::Acl;
use crate::record;
use bytes::Bytes;

record! {
    /// Precedes every txn: `{long clientId, int cxid, long zxid, long time, int type}`.
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time: i64,
        pub txn_type: i32,
    }
}

record! {
    /// create (1) and create2 (15).
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

record! {
    /// createContainer (19).
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

record! {
    /// createTTL (21).
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

record! {
    /// delete (2) and deleteContainer (20).
    pub struct DeleteTxn {
        pub path: String,
    }
}

record! {
    /// setData (5) and reconfig (16); `version` is the new version.
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

record! {
    /// setACL (7); `version` is the new aversion.
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

record! {
    /// check (13) inside a multi.
    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }
}

record! {
    /// createSession (-10).
    pub struct CreateSessionTxn {
        pub timeout: i32,
    }
}

record! {
    /// closeSession (-11), 3.6+: the ephemerals it deletes.
    pub struct CloseSessionTxn {
        pub paths_to_delete: Vec<String>,
    }
}

record! {
    /// error (-1): a failed write still occupies a zxid.
    pub struct ErrorTxn {
        pub err: i32,
    }
}

record! {
    /// One sub-txn of a multi: its type and its serialized record.
    pub struct Txn {
        pub txn_type: i32,
        pub data: Bytes,
    }
}

record! {
    /// multi (14).
    pub struct MultiTxn {
        pub txns: Vec<Txn>,
    }
}

record! {
    /// Optional tree digest after a txn (digest.enabled).
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }
}
