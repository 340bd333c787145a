//! Requests and replies addressed to one node: delete, exists, getData, setData, getACL, setACL,
//! getChildren(2), sync, check, getAllChildrenNumber, getEphemerals, reconfig.

use super::{Acl, Stat};
use crate::record;
use bytes::Bytes;

record! {
    /// delete (2): version -1 matches any.
    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }
}

record! {
    /// deleteContainer (20): the path as a jute buffer (same bytes as a ustring).
    pub struct DeleteContainerRequest {
        pub path: String,
    }
}

record! {
    /// exists (3), getData (4), getChildren (8) and getChildren2 (12) share this shape.
    pub struct PathWatchRequest {
        pub path: String,
        pub watch: bool,
    }
}

record! {
    /// Requests that carry only a path: getACL (6), sync (9), getAllChildrenNumber (104).
    pub struct PathRequest {
        pub path: String,
    }
}

record! {
    /// setData (5).
    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

record! {
    /// setACL (7): version is compared with the node's aversion.
    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

record! {
    /// check (13), only meaningful inside multi.
    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }
}

record! {
    /// getEphemerals (103): null, empty or "/" means all of the caller's ephemerals.
    pub struct GetEphemeralsRequest {
        pub prefix_path: Option<String>,
    }
}

record! {
    /// reconfig (16). Unset parts are null.
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
}

record! {
    /// Reply to exists, setData, setACL: just the Stat.
    pub struct StatResponse {
        pub stat: Stat,
    }
}

record! {
    /// Reply to getData (and reconfig, with the new config text).
    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }
}

record! {
    /// Reply to getACL.
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}

record! {
    /// Reply to getChildren: names only.
    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }
}

record! {
    /// Reply to getChildren2.
    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }
}

record! {
    /// Reply to sync: the path echoed.
    pub struct SyncResponse {
        pub path: String,
    }
}

record! {
    /// Reply to getAllChildrenNumber.
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}

record! {
    /// Reply to getEphemerals.
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }
}

record! {
    /// A bare error code: the body of addWatch replies (always 0) and of multi error results.
    pub struct ErrorResponse {
        pub err: i32,
    }
}
