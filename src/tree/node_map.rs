//! The znode map. Each node sits with its path in one reference-counted [`Entry`], so that a
//! snapshot can take a view of every node in one pass under the tree's read lock (one
//! reference-count increment per node) and encode it after the lock is released; a write to a
//! node still shared with a snapshot view clones that entry first (copy-on-write), so the view
//! stays consistent. One pointer per table slot (a path `Arc<str>` and a node `Arc` before: 32
//! bytes a slot, two allocations and two counts per node).

use super::thin::ThinStr;
use super::{prefetch, Node};
use hashbrown::hash_table::{self, HashTable};
use std::sync::Arc;

/// Path → node. ahash: SipHash dominated snapshot loading; ahash keeps per-process random
/// keys, so client-chosen paths still cannot be made to collide. A hashbrown table rather than
/// a std map so that a bulk insert can hand over hashes computed in advance.
#[derive(Clone, Default)]
pub struct NodeMap {
    table: HashTable<Slot>,
    hasher: ahash::RandomState,
}

/// Every node at one moment, shared with the live map.
pub type View = Vec<Arc<Entry>>;

/// A node and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    path: ThinStr,
    pub node: Node,
}

impl Entry {
    pub fn new(path: &str, node: Node) -> Self {
        Entry {
            path: path.into(),
            node,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// One slot of the table.
type Slot = Arc<Entry>;

/// Whether a slot holds `path`.
fn key_is(path: &str) -> impl Fn(&Slot) -> bool + '_ {
    move |e| *e.path == *path
}

/// A slot's hash, for the table to move it when it grows.
fn rehash(hasher: &ahash::RandomState) -> impl Fn(&Slot) -> u64 + '_ {
    move |e| hasher.hash_one(&*e.path)
}

impl NodeMap {
    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.table
            .find(self.hash(path), key_is(path))
            .map(|e| &e.node)
    }

    /// Mutable access; clones the node first if a snapshot view still holds it.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let hash = self.hash(path);
        self.table
            .find_mut(hash, key_is(path))
            .map(|e| &mut Arc::make_mut(e).node)
    }

    pub fn insert(&mut self, path: &str, node: Node) {
        let hash = self.hash(path);
        match self.table.entry(hash, key_is(path), rehash(&self.hasher)) {
            hash_table::Entry::Occupied(mut e) => *e.get_mut() = Arc::new(Entry::new(path, node)),
            hash_table::Entry::Vacant(e) => {
                e.insert(Arc::new(Entry::new(path, node)));
            }
        }
    }

    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let hash = self.hash(path);
        let entry = self.table.find_entry(hash, key_is(path)).ok()?;
        let (e, _) = entry.remove();
        Some(Arc::unwrap_or_clone(e).node)
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
    pub(super) fn insert_bulk(
        &mut self,
        mut items: Vec<(u64, Arc<Entry>)>,
    ) -> Result<(), Box<str>> {
        self.reserve(items.len());
        let buckets = (self.table.capacity().saturating_mul(8) / 7 + 1).next_power_of_two() as u64;
        let mask = buckets - 1;
        items.sort_unstable_by_key(|(hash, _)| hash & mask);
        for (hash, entry) in items {
            // Keys are compared only when the stored hash bits match, which a new path rarely
            // does, so the check costs next to nothing.
            match self
                .table
                .entry(hash, key_is(&entry.path), rehash(&self.hasher))
            {
                hash_table::Entry::Vacant(e) => {
                    e.insert(entry);
                }
                hash_table::Entry::Occupied(_) => return Err(entry.path.as_str().into()),
            }
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.table.iter().map(|e| (&*e.path, &e.node))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.iter().map(|e| &*e.path)
    }

    /// Every node, shared: O(n) reference-count increments and no copying.
    pub fn view(&self) -> View {
        let mut ahead = self.table.iter().skip(prefetch::AHEAD);
        self.table
            .iter()
            .map(|entry| {
                if let Some(e) = ahead.next() {
                    prefetch::arc_header(Arc::as_ptr(e));
                }
                entry.clone()
            })
            .collect()
    }
}

impl std::ops::Index<&str> for NodeMap {
    type Output = Node;

    fn index(&self, path: &str) -> &Node {
        self.get(path).expect("no node at the path")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                (hash, Arc::new(Entry::new(&path, node(i))))
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
        assert_eq!(bulk["/n/5"].stat.version, -5);
        assert_eq!(bulk["/n/1599"].stat.version, 1599);
        let mut keys: Vec<&str> = bulk.keys().collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 1599);
        // A path twice (a snapshot listing a node twice) is refused, not stored twice.
        let mut twice = NodeMap::default();
        let again =
            |m: &NodeMap, p: &str| (m.hasher().hash_one(p), Arc::new(Entry::new(p, node(0))));
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
#[cfg(test)]
mod size {
    /// An entry and its `Arc`'s two counts fill the allocator's 112-byte size class (thin
    /// path and value, see `thin`); one byte more and every znode takes the 128-byte class.
    #[test]
    fn an_entry_fits_112_bytes_with_its_counts() {
        assert!(std::mem::size_of::<super::Entry>() + 2 * std::mem::size_of::<usize>() <= 112);
    }
}
