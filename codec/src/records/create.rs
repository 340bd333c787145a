//! create, create2, createContainer and createTTL requests and replies.

use super::{Acl, Stat};
use crate::record;
use bytes::Bytes;

record! {
    /// Body of create (1), create2 (15) and createContainer (19).
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
}

record! {
    /// Body of createTTL (21).
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
}

record! {
    /// Reply to create (1): the actual path, with any sequence suffix.
    pub struct CreateResponse {
        pub path: String,
    }
}

record! {
    /// Reply to create2, createContainer and createTTL.
    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }
}
