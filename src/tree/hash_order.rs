//! Name sets that list their members in the order ZooKeeper's Java `HashSet<String>` would.
//!
//! ZooKeeper returns children (`DataNode.children`, a `HashSet(8)`) and a session's ephemerals
//! (a `HashSet()`, cloned before listing) in hash-table order: by bucket, `spread(hash) &
//! (capacity - 1)`, and within a bucket in insertion order (a resize splits buckets without
//! reordering them). The capacity only grows: it doubles when the set holds more than 3/4 of it,
//! or when a ninth name lands in one bucket of a table under 64 (`treeifyBin`). Clients are not
//! meant to rely on the order, but tools print it, and the conformance suite compares it.
//!
//! Members are kept by name in [`PackedNames`] (shared chunks: copying a large parent for a
//! snapshot's sake does not copy its names) with their Java hash and an insertion counter; the
//! Java order is computed when a list is asked for. The set itself is boxed, so a node without
//! children spends one pointer on it.
//! Known gaps: a bucket already treeified (9+ colliding names in a table of 64 or more) orders
//! new members differently in Java, and after a restart ZooKeeper re-inserts children in its
//! old listing order while rzk re-inserts them by name.

use super::packed_names::PackedNames;

/// `new HashSet<String>(8)`: DataNode's children.
pub const CHILDREN_INITIAL_LOG2: u8 = 3;
/// `new HashSet<String>()`: a session's ephemerals.
pub const EPHEMERALS_INITIAL_LOG2: u8 = 4;
const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_LOG2: u8 = 6;

/// `HashMap.hash(key)` for a `String` key: `String.hashCode()` over UTF-16 units, spread.
pub fn java_hash(s: &str) -> u32 {
    let h = s
        .encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
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

/// What `remove` took out, to put it back exactly (a failed multi's roll-back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    hash: u32,
    seq: u32,
}

impl HashOrderSet {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.items.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members by name (for walks where order does not show).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|m| m.items.iter().map(|(name, _, _)| name))
    }

    /// Builds the set that inserting `names` one after the other would build; the names must
    /// be in strictly ascending order. Snapshot load: the set is built in bulk instead of one
    /// search per name, and only the table-size history is replayed.
    ///
    /// # Errors
    /// The first name out of order.
    pub fn from_sorted_inserts<'a>(
        names: impl IntoIterator<Item = &'a str>,
        initial_log2: u8,
    ) -> Result<Self, &'a str> {
        let mut hashes: Vec<u32> = Vec::new();
        let mut cap_log2 = initial_log2;
        let mut seq = 0u32;
        let items = PackedNames::from_sorted(names.into_iter().map(|name| {
            let hash = java_hash(name);
            if cap_log2 < MIN_TREEIFY_LOG2 {
                let mask = (1u32 << cap_log2) - 1;
                let same_bucket = hashes.iter().filter(|h| *h & mask == hash & mask).count();
                if same_bucket >= TREEIFY_THRESHOLD {
                    cap_log2 += 1;
                }
                hashes.push(hash);
            }
            seq += 1;
            if seq as usize > (3usize << cap_log2) / 4 {
                cap_log2 += 1;
            }
            (name, hash, seq - 1)
        }))?;
        if items.is_empty() {
            return Ok(HashOrderSet::default());
        }
        Ok(HashOrderSet(Some(Box::new(Members {
            items,
            next_seq: seq,
            cap_log2,
        }))))
    }

    /// The Java table size's log2 (for roll-back).
    pub fn cap_log2(&self) -> u8 {
        self.0.as_ref().map_or(0, |m| m.cap_log2)
    }

    /// Restores the table size after rolling back inserts that grew it.
    pub fn set_cap_log2(&mut self, cap_log2: u8) {
        if self.0.is_some() || cap_log2 != 0 {
            self.members(cap_log2).cap_log2 = cap_log2;
        }
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

    /// Removes `name`, returning what puts it back in the same place.
    pub fn remove(&mut self, name: &str) -> Option<Removed> {
        self.0
            .as_mut()?
            .items
            .remove(name)
            .map(|(hash, seq)| Removed { hash, seq })
    }

    /// Puts back a member taken out by `remove`.
    pub fn restore(&mut self, name: &str, r: Removed) {
        if let Some(m) = &mut self.0 {
            m.items.insert(name, r.hash, r.seq);
        }
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

    #[test]
    fn bulk_build_equals_inserting_one_by_one() {
        // Colliding short names exercise the treeify growth, many names the load-factor growth.
        for n in [0usize, 1, 7, 9, 13, 40, 100, 1000] {
            let mut names: Vec<String> = (0..n).map(|i| format!("n{}", i * 31)).collect();
            // "Aa" and "BB" hash alike in Java, so these 16 names share one bucket.
            names.extend((0..16.min(n)).map(|bits| {
                (0..4)
                    .map(|b| if bits >> b & 1 == 1 { "Aa" } else { "BB" })
                    .collect::<String>()
            }));
            names.sort();
            names.dedup();
            let mut one_by_one = HashOrderSet::default();
            for name in &names {
                one_by_one.insert(name, CHILDREN_INITIAL_LOG2);
            }
            let bulk = HashOrderSet::from_sorted_inserts(
                names.iter().map(String::as_str),
                CHILDREN_INITIAL_LOG2,
            )
            .unwrap();
            assert_eq!(bulk, one_by_one, "{n} names");
            assert_eq!(bulk.java_order(), one_by_one.java_order());
        }
    }

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

    #[test]
    fn removed_members_come_back_in_place() {
        let mut s = HashOrderSet::default();
        for n in ["a", "q", "i", "y"] {
            s.insert(n, CHILDREN_INITIAL_LOG2);
        }
        let before: Vec<String> = s.java_order().iter().map(|x| x.to_string()).collect();
        let r = s.remove("q").unwrap();
        s.insert("z", CHILDREN_INITIAL_LOG2);
        s.remove("z");
        s.restore("q", r);
        assert_eq!(s.java_order(), before);
    }
}
