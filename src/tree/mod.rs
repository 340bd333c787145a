//! The data tree: znodes with their data, ACLs and Stat, the ephemerals of each session, the
//! container and TTL sets, and the sessions known to the log. Pure and synchronous: no clock,
//! no I/O, no randomness. It changes only through [`DataTree::apply`] (in `apply.rs`), which
//! takes a log entry and its zxid, so that every replica that applies the same log holds the
//! same tree. Reads (`get_data`, `children`, …) check ACLs against the caller's identities.
//!
//! Invariants: every node but "/" has its parent in the map and its name in the parent's
//! children; a session-ephemeral node is listed under its owner in `ephemerals`; the persisted
//! cversion counts child creations only (clients see `2 * cversion - numChildren`).

mod acl;
mod apply;
mod arena;
pub mod hash_order;
mod node_map;
mod packed_names;
pub mod path;
mod prefetch;
mod quota;
mod record;
mod snapshot;

pub use acl::{allows as acl_allows, base64, digest_id};
pub use apply::{Applied, Event};
pub use node_map::NodeRef;
pub use snapshot::TreeView;

use hash_order::HashOrderSet;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use zk_codec::records::{Acl, Id, Stat, StatPersisted};
use zk_codec::{perms, ErrorCode};

/// ephemeralOwner of a container node.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// ephemeralOwner high byte of a TTL node; the low 40 bits hold the TTL.
const TTL_MARK: i64 = 0xFF00_0000_0000_0000u64 as i64;
/// The largest TTL ZooKeeper accepts (2^40 - 1 ms).
pub const MAX_TTL: i64 = (1 << 40) - 1;

/// Behaviour switches that change outcomes, so they must be equal on every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// zookeeper.extendedTypesEnabled: TTL nodes.
    pub extended_types: bool,
    /// reconfigEnabled.
    pub reconfig_enabled: bool,
    /// zookeeper.skipACL.
    pub skip_acl: bool,
}

/// One znode, owned: what a write works on and an undo log keeps (its children are the store's:
/// see `node_map`). The store keeps nodes packed (see `record`) and lends them out as
/// [`NodeRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `None` when created with null data (kept distinct from empty).
    pub data: Option<Value>,
    pub acl: AclList,
    /// Persisted stat: cversion counts creations; ephemeral_owner holds the internal markers.
    pub stat: StatPersisted,
}

impl Node {
    /// The value's length (0 for null data).
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }
}

/// A node's ACL list, shared by every node with the same list (records hold its number).
pub type AclList = Arc<Vec<Acl>>;

/// An owned node's value.
pub type Value = Box<[u8]>;

/// What kind of node an ephemeralOwner value marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

/// The tree.
#[derive(Debug)]
pub struct DataTree {
    nodes: node_map::NodeMap,
    /// Kept while the session lives, even when empty (ZooKeeper keeps the set's capacity).
    ephemerals: HashMap<i64, HashOrderSet>,
    containers: HashSet<String>,
    ttls: HashSet<String>,
    /// Sessions created and not yet closed, with their timeouts (ms).
    sessions: HashMap<i64, i32>,
    acls: HashSet<AclList>,
    last_zxid: i64,
    data_size: u64,
    /// Paths with a quota (derived from /zookeeper/quota/**/zookeeper_limits nodes).
    quota_roots: BTreeSet<String>,
    opts: Options,
}

fn builtin_stat() -> StatPersisted {
    StatPersisted::default()
}

impl DataTree {
    /// Puts the ensemble's membership text into `/zookeeper/config` without a txn or a stat
    /// change, as ZooKeeper does each time a quorum peer loads its database.
    pub fn set_config_data(&mut self, text: &str) {
        if let Some(mut n) = self.nodes.get_mut("/zookeeper/config") {
            let old = n.data_len() as u64;
            n.data = Some(Value::from(text.as_bytes()));
            self.data_size = self.data_size - old + text.len() as u64;
        }
    }

    /// A fresh tree: "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config".
    pub fn new(opts: Options) -> DataTree {
        let mut t = DataTree {
            nodes: node_map::NodeMap::default(),
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            sessions: HashMap::new(),
            acls: HashSet::new(),
            last_zxid: 0,
            data_size: 0,
            quota_roots: BTreeSet::new(),
            opts,
        };
        let open = t.intern(Acl::open_unsafe());
        let read = t.intern(Acl::read_unsafe());
        let add = |t: &mut DataTree, path: &str, acl: AclList, data: Option<Value>| {
            let node = Node {
                data,
                acl,
                stat: builtin_stat(),
            };
            t.nodes.insert(path, node).expect("built-in nodes in order");
        };
        add(&mut t, "/", open.clone(), Some(Value::default()));
        add(&mut t, "/zookeeper", open.clone(), Some(Value::default()));
        add(&mut t, "/zookeeper/quota", open, Some(Value::default()));
        add(&mut t, "/zookeeper/config", read, Some(Value::default()));
        if let Some(mut n) = t.nodes.get_mut("/zookeeper/config") {
            n.stat.aversion = -1;
        }
        t.data_size = t
            .nodes
            .iter()
            .into_iter()
            .map(|(p, n)| (p.len() + n.data_len()) as u64)
            .sum();
        t
    }

    /// The options the tree decides with.
    pub fn options(&self) -> Options {
        self.opts
    }

    /// The zxid of the last applied entry.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// ZooKeeper's znode_count: every znode including the built-in ones, plus one because
    /// ZooKeeper's node map holds the root twice (under "" and "/").
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Sum of path lengths and data lengths, like ZooKeeper's approximate_data_size.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// Number of session-ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(HashOrderSet::len).sum()
    }

    /// Whether `session` has been created and not closed.
    pub fn has_session(&self, session: i64) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Every live session with its timeout.
    pub fn sessions(&self) -> impl Iterator<Item = (i64, i32)> + '_ {
        self.sessions.iter().map(|(s, t)| (*s, *t))
    }

    /// Ephemeral paths per owning session.
    pub fn ephemerals_by_session(&self) -> impl Iterator<Item = (i64, Vec<&str>)> {
        self.ephemerals
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(s, p)| (*s, p.java_order()))
    }

    /// The node at `path`; "" is the root, as in ZooKeeper.
    pub fn node(&self, path: &str) -> Option<NodeRef<'_>> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    /// Classifies an ephemeralOwner value.
    pub fn kind_of(&self, owner: i64) -> Kind {
        if owner == 0 {
            Kind::Persistent
        } else if owner == CONTAINER_OWNER {
            Kind::Container
        } else if self.opts.extended_types && owner & TTL_MARK == TTL_MARK {
            Kind::Ttl(owner & MAX_TTL)
        } else {
            Kind::Ephemeral(owner)
        }
    }

    /// The Stat a client sees for `node`.
    pub fn stat_of(&self, node: &NodeRef<'_>) -> Stat {
        self.stat_from(&node.stat, node.data_len(), node.children.len())
    }

    /// The Stat a client sees for a node of this stat, value length and child count.
    fn stat_from(&self, s: &StatPersisted, data_len: usize, num_children: usize) -> Stat {
        let num_children = num_children as i32;
        let owner = match self.kind_of(s.ephemeral_owner) {
            Kind::Ephemeral(o) => o,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: data_len as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }

    fn allowed(&self, node: &NodeRef<'_>, perm: i32, ids: &[Id]) -> bool {
        self.opts.skip_acl || acl::allows(node.acl, perm, ids)
    }

    fn readable(&self, path: &str, ids: &[Id]) -> Result<NodeRef<'_>, ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&node, perms::READ, ids) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(node)
    }

    /// getData: node exists, then READ. The value is lent, not cloned: the reply is encoded
    /// under the caller's lock, and a clone would write to the value's shared count (and give
    /// every value ever read a 24-byte count of its own).
    pub fn get_data(&self, path: &str, ids: &[Id]) -> Result<(Option<&[u8]>, Stat), ErrorCode> {
        let node = self.readable(path, ids)?;
        let stat = self.stat_of(&node);
        Ok((node.data, stat))
    }

    /// exists: a NUL gives BadArguments; no ACL check (ZooKeeper 3.8 answers exists on a node
    /// the caller may not read, as the conformance suite measured).
    pub fn exists(&self, path: &str, _ids: &[Id]) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        self.node(path)
            .ok_or(ErrorCode::NoNode)
            .map(|n| self.stat_of(&n))
    }

    /// getChildren / getChildren2: names in ZooKeeper's order (`hash_order`).
    pub fn children(&self, path: &str, ids: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.readable(path, ids)?;
        Ok((
            node.children
                .java_order()
                .into_iter()
                .map(|c| c.to_string())
                .collect(),
            self.stat_of(&node),
        ))
    }

    /// getACL: READ or ADMIN; digest ids masked without ADMIN.
    pub fn get_acl(&self, path: &str, ids: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&node, perms::READ | perms::ADMIN, ids) {
            return Err(ErrorCode::NoAuth);
        }
        let acl = if self.opts.skip_acl {
            node.acl.to_vec()
        } else {
            acl::masked_for_reader(node.acl, ids)
        };
        Ok((acl, self.stat_of(&node)))
    }

    /// getAllChildrenNumber: every descendant.
    pub fn all_children_number(&self, path: &str, ids: &[Id]) -> Result<i32, ErrorCode> {
        self.readable(path, ids)?;
        // The walk counts the node itself too.
        let mut count = -1i32;
        self.nodes
            .walk(if path.is_empty() { "/" } else { path }, |_, _| count += 1);
        Ok(count)
    }

    /// getEphemerals: the session's ephemerals whose path starts with `prefix` (all for
    /// null, "" or "/"), in the order of ZooKeeper's copy of its set.
    pub fn ephemerals_of(&self, session: i64, prefix: Option<&str>) -> Vec<String> {
        let prefix = prefix.filter(|p| !p.is_empty() && *p != "/");
        self.ephemerals
            .get(&session)
            .map(|set| {
                set.cloned_java_order()
                    .into_iter()
                    .filter(|p| prefix.is_none_or(|pre| p.starts_with(pre)))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Empty containers that once had a child, and TTL nodes without children whose TTL has
    /// run out at `now_ms`: what the container manager deletes next.
    pub fn reapable(&self, now_ms: i64, limit: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.containers {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if n.children.is_empty() && n.stat.cversion > 0 {
                    out.push(p.clone());
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if let Kind::Ttl(ttl) = self.kind_of(n.stat.ephemeral_owner) {
                    if n.children.is_empty() && now_ms - n.stat.mtime > ttl {
                        out.push(p.clone());
                    }
                }
            }
        }
        out.sort();
        out.truncate(limit);
        out
    }

    /// Shares identical ACL lists between nodes.
    fn intern(&mut self, acl: Vec<Acl>) -> AclList {
        if let Some(a) = self.acls.get(&acl) {
            return a.clone();
        }
        let a: AclList = Arc::new(acl);
        self.acls.insert(a.clone());
        a
    }
}

#[cfg(test)]
mod tests;
