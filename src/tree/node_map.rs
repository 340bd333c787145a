//! The znode map. Each node is one packed, reference-counted [`Entry`] holding its path (see
//! `packed_node`), so that a snapshot can take a view of every node in one pass under the
//! tree's read lock (one reference-count increment per node) and encode it after the lock is
//! released. Entries are never changed in place: a write takes the node out ([`NodeMut`]) and
//! stores a new entry when done, so a view keeps the nodes as they were. One pointer per table
//! slot.

use super::packed_node::{Entry, Meta, NodeRef};
use super::{prefetch, Node};
use hashbrown::hash_table::{self, HashTable};
use zk_codec::records::StatPersisted;

/// Path → node. ahash: SipHash dominated snapshot loading; ahash keeps per-process random
/// keys, so client-chosen paths still cannot be made to collide. A hashbrown table rather than
/// a std map so that a bulk insert can hand over hashes computed in advance.
#[derive(Clone, Default)]
pub struct NodeMap {
    table: HashTable<Slot>,
    hasher: ahash::RandomState,
}

/// Every node at one moment, shared with the live map.
pub type View = Vec<Entry>;

/// A node taken out of the map for a write; the node is packed back into the map when this is
/// dropped.
pub struct NodeMut<'a> {
    slot: &'a mut Entry,
    node: Option<Node>,
}

impl std::ops::Deref for NodeMut<'_> {
    type Target = Node;

    fn deref(&self) -> &Node {
        self.node.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for NodeMut<'_> {
    fn deref_mut(&mut self) -> &mut Node {
        self.node.as_mut().expect("present until dropped")
    }
}

impl Drop for NodeMut<'_> {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let packed = Entry::new(self.slot.path(), node);
            *self.slot = packed;
        }
    }
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// One slot of the table.
type Slot = Entry;

/// Whether a slot holds `path`.
fn key_is(path: &str) -> impl Fn(&Slot) -> bool + '_ {
    move |e| e.path() == path
}

/// A slot's hash, for the table to move it when it grows.
fn rehash(hasher: &ahash::RandomState) -> impl Fn(&Slot) -> u64 + '_ {
    move |e| hasher.hash_one(e.path())
}

impl NodeMap {
    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        self.table
            .find(self.hash(path), key_is(path))
            .map(Entry::node)
    }

    /// The node for a write, packed back when the guard drops; its ACL and children are
    /// cloned only if a snapshot view still holds the entry.
    pub fn get_mut(&mut self, path: &str) -> Option<NodeMut<'_>> {
        let hash = self.hash(path);
        self.table.find_mut(hash, key_is(path)).map(|slot| {
            let node = Some(slot.take_node());
            NodeMut { slot, node }
        })
    }

    pub fn insert(&mut self, path: &str, node: Node) {
        self.insert_packed(Entry::new(path, node));
    }

    /// Replaces a node's value and stat, keeping its ACL and children (moved, not copied,
    /// unless a view holds the entry); the old value is not copied either.
    pub fn set_data(&mut self, path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> bool {
        self.repack(path, Some(data), |m| m.stat = stat.clone())
            .is_some()
    }

    /// Changes a node's stat, ACL or children in place of a [`NodeMut`]: the value goes from
    /// the old entry to the new one without an owned copy in between (a parent's update at
    /// every create and delete).
    pub fn update<R>(&mut self, path: &str, f: impl FnOnce(&mut Meta) -> R) -> Option<R> {
        self.repack(path, None, f)
    }

    /// Packs a new entry for `path` from the old one's parts as `f` leaves them, with `data` as
    /// its value (`None`: the old entry's).
    fn repack<R>(
        &mut self,
        path: &str,
        data: Option<Option<&[u8]>>,
        f: impl FnOnce(&mut Meta) -> R,
    ) -> Option<R> {
        let hash = self.hash(path);
        let slot = self.table.find_mut(hash, key_is(path))?;
        let stat = slot.node().stat;
        let (acl, children) = slot.take_shared();
        let mut meta = Meta {
            stat,
            acl,
            children,
        };
        let r = f(&mut meta);
        let data = data.unwrap_or_else(|| slot.data());
        let packed = Entry::pack(slot.path(), data, &meta.stat, meta.acl, meta.children);
        *slot = packed;
        Some(r)
    }

    pub fn insert_packed(&mut self, entry: Entry) {
        let path = entry.path();
        let hash = self.hash(path);
        match self.table.entry(hash, key_is(path), rehash(&self.hasher)) {
            hash_table::Entry::Occupied(mut e) => *e.get_mut() = entry,
            hash_table::Entry::Vacant(e) => {
                e.insert(entry);
            }
        }
    }

    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let hash = self.hash(path);
        let entry = self.table.find_entry(hash, key_is(path)).ok()?;
        let (mut e, _) = entry.remove();
        Some(e.take_node())
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn clear(&mut self) {
        self.table.clear();
    }

    pub fn reserve(&mut self, n: usize) {
        self.table.reserve(n, rehash(&self.hasher));
    }

    /// The hasher [`NodeMap::insert_bulk`] wants the keys hashed with.
    pub(super) fn hasher(&self) -> &ahash::RandomState {
        &self.hasher
    }

    /// Inserts nodes, each with its path's hash from [`NodeMap::hasher`], in the order of the
    /// table's buckets: a million inserts in the order they were read (random for the table)
    /// cost a cache and a TLB miss each, and were a fifth of a restart. hashbrown keeps a power
    /// of two of buckets, at most 7/8 full, and starts each probe at `hash & (buckets - 1)`; a
    /// wrong guess of that only costs speed.
    ///
    /// # Errors
    /// A path that is already in the map or twice in `items` (nothing after it is inserted).
    pub(super) fn insert_bulk(&mut self, mut items: Vec<(u64, Entry)>) -> Result<(), Box<str>> {
        self.reserve(items.len());
        let buckets = (self.table.capacity().saturating_mul(8) / 7 + 1).next_power_of_two() as u64;
        let mask = buckets - 1;
        items.sort_unstable_by_key(|(hash, _)| hash & mask);
        for (hash, entry) in items {
            // Keys are compared only when the stored hash bits match, which a new path rarely
            // does, so the check costs next to nothing.
            match self
                .table
                .entry(hash, key_is(entry.path()), rehash(&self.hasher))
            {
                hash_table::Entry::Vacant(e) => {
                    e.insert(entry);
                }
                hash_table::Entry::Occupied(_) => return Err(entry.path().into()),
            }
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, NodeRef<'_>)> {
        self.table.iter().map(|e| (e.path(), e.node()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.iter().map(Entry::path)
    }

    /// Every node, shared: O(n) reference-count increments and no copying.
    pub fn view(&self) -> View {
        let mut ahead = self.table.iter().skip(prefetch::AHEAD);
        self.table
            .iter()
            .map(|entry| {
                if let Some(e) = ahead.next() {
                    prefetch::lines(e.as_ptr(), 1);
                }
                entry.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use zk_codec::records::{Acl, StatPersisted};

    fn node(version: i32) -> Node {
        Node {
            data: None,
            acl: Arc::from(Acl::open_unsafe()),
            stat: StatPersisted {
                version,
                ..Default::default()
            },
            children: Default::default(),
        }
    }

    #[test]
    fn a_bulk_insert_finds_every_node_and_the_map_keeps_working() {
        let mut bulk = NodeMap::default();
        bulk.reserve(1500);
        let items: Vec<_> = (0..1000)
            .map(|i| {
                let path = format!("/n/{i}");
                let hash = bulk.hasher().hash_one(path.as_str());
                (hash, Entry::new(&path, node(i)))
            })
            .collect();
        bulk.insert_bulk(items).unwrap();
        assert_eq!(bulk.len(), 1000);
        for i in 0..1000 {
            assert_eq!(
                bulk.get(&format!("/n/{i}")).map(|n| n.stat.version),
                Some(i)
            );
        }
        assert!(bulk.get("/n/1000").is_none());
        // Plain inserts, updates and removes after it (the log replay that follows a load).
        for i in 1000..1600 {
            bulk.insert(&format!("/n/{i}"), node(i));
        }
        bulk.insert("/n/5", node(-5));
        assert_eq!(bulk.remove("/n/7").map(|n| n.stat.version), Some(7));
        assert!(!bulk.contains_key("/n/7"));
        assert_eq!(bulk.len(), 1599);
        assert_eq!(bulk.get("/n/5").unwrap().stat.version, -5);
        assert_eq!(bulk.get("/n/1599").unwrap().stat.version, 1599);
        // A write through the guard is packed back, and a view keeps what it saw.
        let view = bulk.view();
        bulk.get_mut("/n/5").unwrap().stat.version = 55;
        assert_eq!(bulk.get("/n/5").unwrap().stat.version, 55);
        let old = view.iter().find(|e| e.path() == "/n/5").unwrap();
        assert_eq!(old.node().stat.version, -5);
        let mut keys: Vec<&str> = bulk.keys().collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 1599);
        // A path twice (a snapshot listing a node twice) is refused, not stored twice.
        let mut twice = NodeMap::default();
        let again = |m: &NodeMap, p: &str| (m.hasher().hash_one(p), Entry::new(p, node(0)));
        let items = vec![
            again(&twice, "/a"),
            again(&twice, "/b"),
            again(&twice, "/a"),
        ];
        assert_eq!(
            twice.insert_bulk(items).map_err(String::from),
            Err("/a".into())
        );
        assert_eq!(twice.keys().filter(|k| *k == "/a").count(), 1);
    }
}
