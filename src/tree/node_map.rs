//! The znode map. Keys and nodes are reference-counted so that a snapshot can take a view of
//! every node in one pass under the tree's read lock (reference-count increments only) and
//! encode it after the lock is released; a write to a node still shared with a snapshot view
//! clones that node first (copy-on-write), so the view stays consistent.

use super::Node;
use std::collections::HashMap;
use std::sync::Arc;

/// Path → node. ahash: SipHash dominated snapshot loading; ahash keeps per-process random
/// keys, so client-chosen paths still cannot be made to collide.
#[derive(Debug, Clone, Default)]
pub struct NodeMap(HashMap<Arc<str>, Arc<Node>, ahash::RandomState>);

/// Every node at one moment, shared with the live map.
pub type View = Vec<(Arc<str>, Arc<Node>)>;

impl NodeMap {
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.0.get(path).map(|n| &**n)
    }

    /// Mutable access; clones the node first if a snapshot view still holds it.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.0.get_mut(path).map(Arc::make_mut)
    }

    pub fn insert(&mut self, path: &str, node: Node) {
        self.0.insert(Arc::from(path), Arc::new(node));
    }

    pub(super) fn insert_shared(&mut self, path: &str, node: Arc<Node>) {
        self.0.insert(Arc::from(path), node);
    }

    pub fn remove(&mut self, path: &str) -> Option<Node> {
        self.0.remove(path).map(Arc::unwrap_or_clone)
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn reserve(&mut self, n: usize) {
        self.0.reserve(n);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(|k| &**k)
    }

    /// Every node, shared: O(n) reference-count increments and no copying.
    pub fn view(&self) -> View {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl std::ops::Index<&str> for NodeMap {
    type Output = Node;

    fn index(&self, path: &str) -> &Node {
        &self.0[path]
    }
}
