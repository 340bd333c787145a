//! Name sets that list their members in the order ZooKeeper's Java `HashSet<String>` would.
//!
//! ZooKeeper returns children (`DataNode.children`, a `HashSet(8)`) and a session's ephemerals
//! (a `HashSet()`, cloned before listing) in hash-table order: by bucket, `spread(hash) &
//! (capacity - 1)`, and within a bucket in insertion order (a resize splits buckets without
//! reordering them). The capacity only grows: it doubles when the set holds more than 3/4 of it,
//! or when a ninth name lands in one bucket of a table under 64 (`treeifyBin`). Clients are not
//! meant to rely on the order, but tools print it, and the conformance suite compares it.
//!
//! A node's children follow these rules in the znode store (`node_map`, which keeps no list of
//! names: the order comes from each child's name and czxid). [`HashOrderSet`] holds the names
//! of a session's ephemerals, by name in [`PackedNames`] with their Java hash and an insertion
//! counter; the Java order is computed when a list is asked for.
//! Known gaps: a bucket already treeified (9+ colliding names in a table of 64 or more) orders
//! new members differently in Java.

use super::packed_names::PackedNames;

/// `new HashSet<String>(8)`: DataNode's children.
pub const CHILDREN_INITIAL_LOG2: u8 = 3;
/// `new HashSet<String>()`: a session's ephemerals.
pub const EPHEMERALS_INITIAL_LOG2: u8 = 4;
pub(super) const TREEIFY_THRESHOLD: usize = 8;
pub(super) const MIN_TREEIFY_LOG2: u8 = 6;

/// `HashMap.hash(key)` for a `String` key: `String.hashCode()` over UTF-16 units, spread.
pub fn java_hash(s: &str) -> u32 {
    let step = |h: u32, c: u32| h.wrapping_mul(31).wrapping_add(c);
    // An ASCII byte is its own UTF-16 unit (most names; the listing computes this per child).
    let h = if s.is_ascii() {
        s.bytes().fold(0, |h, c| step(h, u32::from(c)))
    } else {
        s.encode_utf16().fold(0, |h, c| step(h, u32::from(c)))
    };
    h ^ (h >> 16)
}

/// A set of names with Java `HashSet` listing order; empty and unallocated until the first
/// insert (a Java set's table is allocated then too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashOrderSet(Option<Box<Members>>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Members {
    /// name -> (Java hash, insertion number)
    items: PackedNames,
    next_seq: u32,
    /// log2 of the Java table size.
    cap_log2: u8,
}

impl HashOrderSet {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.items.len())
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.items.is_empty())
    }

    /// Members by name (for walks where order does not show).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|m| m.items.iter().map(|(name, _, _)| name))
    }

    /// The Java table size's log2.
    #[cfg(test)]
    pub fn cap_log2(&self) -> u8 {
        self.0.as_ref().map_or(0, |m| m.cap_log2)
    }

    fn members(&mut self, initial_log2: u8) -> &mut Members {
        self.0.get_or_insert_with(|| {
            Box::new(Members {
                items: PackedNames::default(),
                next_seq: 0,
                cap_log2: initial_log2,
            })
        })
    }

    /// Adds `name`; false if it was there. The table starts at `2^initial_log2`.
    pub fn insert(&mut self, name: &str, initial_log2: u8) -> bool {
        let hash = java_hash(name);
        let m = self.members(initial_log2);
        let seq = m.next_seq;
        if m.cap_log2 < MIN_TREEIFY_LOG2 {
            // A small table also grows on a crowded bucket, which needs the other members.
            if m.items.contains(name) {
                return false;
            }
            let mask = m.mask();
            let same_bucket = m
                .items
                .iter()
                .filter(|(_, h, _)| h & mask == hash & mask)
                .count();
            if same_bucket >= TREEIFY_THRESHOLD {
                m.cap_log2 += 1;
            }
            m.items.insert(name, hash, seq);
        } else if !m.items.insert(name, hash, seq) {
            return false;
        }
        m.next_seq = seq.wrapping_add(1);
        if m.items.len() > (3usize << m.cap_log2) / 4 {
            m.cap_log2 += 1;
        }
        true
    }

    /// Removes `name`; false if it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.0
            .as_mut()
            .is_some_and(|m| m.items.remove(name).is_some())
    }

    /// Members in Java iteration order.
    pub fn java_order(&self) -> Vec<&str> {
        self.java_order_with_hash()
            .into_iter()
            .map(|(_, k)| k)
            .collect()
    }

    fn java_order_with_hash(&self) -> Vec<(u32, &str)> {
        let Some(m) = &self.0 else {
            return Vec::new();
        };
        let mask = m.mask();
        let mut v: Vec<(u32, u32, u32, &str)> = m
            .items
            .iter()
            .map(|(k, h, s)| (h & mask, s.wrapping_sub(m.next_seq), h, k))
            .collect();
        v.sort_unstable_by_key(|(b, s, _, _)| (*b, *s));
        v.into_iter().map(|(_, _, h, k)| (h, k)).collect()
    }

    /// Members in the order of a `HashSet.clone()` of this set (what getEphemerals lists): the
    /// copy's table is `tableSizeFor(size / 0.75 + 1)`, filled in this set's order.
    pub fn cloned_java_order(&self) -> Vec<&str> {
        let order = self.java_order_with_hash();
        let wanted = (order.len() as f32 / 0.75 + 1.0) as u32;
        let mask = wanted.max(1).next_power_of_two() - 1;
        let mut v: Vec<(u32, &str)> = order.into_iter().map(|(h, k)| (h & mask, k)).collect();
        v.sort_by_key(|(b, _)| *b);
        v.into_iter().map(|(_, k)| k).collect()
    }
}

impl Members {
    fn mask(&self) -> u32 {
        (1u32 << self.cap_log2) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listings measured on ZooKeeper 3.8 (conformance/clients FINDINGS: `ls /` after creating
    /// /c1 then /a is `a zookeeper c1`).
    #[test]
    fn root_children_follow_zookeeper() {
        let mut s = HashOrderSet::default();
        for n in ["zookeeper", "c1", "a"] {
            s.insert(n, CHILDREN_INITIAL_LOG2);
        }
        assert_eq!(s.java_order(), ["a", "zookeeper", "c1"]);
    }

    #[test]
    fn ephemerals_list_in_clone_order() {
        let mut s = HashOrderSet::default();
        for n in ["/app/eph", "/app/eseq"] {
            s.insert(n, EPHEMERALS_INITIAL_LOG2);
        }
        assert_eq!(s.cloned_java_order(), ["/app/eseq", "/app/eph"]);
    }

    #[test]
    fn capacity_grows_past_three_quarters_and_never_shrinks() {
        let mut s = HashOrderSet::default();
        for i in 0..6 {
            s.insert(&format!("n{i}"), CHILDREN_INITIAL_LOG2);
        }
        assert_eq!(s.cap_log2(), 3);
        s.insert("n6", CHILDREN_INITIAL_LOG2);
        assert_eq!(s.cap_log2(), 4);
        for i in 0..7 {
            s.remove(&format!("n{i}"));
        }
        assert_eq!(s.cap_log2(), 4);
    }
}
