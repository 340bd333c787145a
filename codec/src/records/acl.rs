//! ACL entries and identities.

use crate::record;

record! {
    /// An identity: `{ustring scheme, ustring id}`, e.g. `world:anyone`, `digest:u:hash`.
    pub struct Id {
        pub scheme: String,
        pub id: String,
    }
}

record! {
    /// One ACL entry: permission bits and the identity they are granted to.
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }
}

impl Id {
    /// Builds an identity.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
}

impl Acl {
    /// `world:anyone` with all permissions (ZooDefs.Ids.OPEN_ACL_UNSAFE).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }

    /// `world:anyone` read-only (ZooDefs.Ids.READ_ACL_UNSAFE).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }
}
