//! A sorted set of names, each with two `u32`s, stored in shared chunks.
//!
//! A parent's child names are the one part of a node that grows without bound, and a node is
//! copied whenever it is written while a snapshot view still holds it (see `node_map`). With a
//! `BTreeMap<Box<str>, _>` that copy was a deep one: 49 ms (and a million allocations, freed
//! again 14 ms later) for a parent of 900k children, under the tree's write lock, once per
//! snapshot. Here the names live in chunks of at most [`CHUNK_MAX`] members behind an `Arc`, so
//! a copy shares every chunk and a later write copies only the chunk it touches. Inside a chunk
//! the names are packed into one string with an end offset each: no allocation per name, and
//! ~22 bytes per 10-byte name where the map spent ~64.

use std::sync::Arc;

/// Members per chunk: a copied set costs one reference count per chunk, a write to a shared
/// chunk copies at most this many members.
const CHUNK_MAX: usize = 128;

/// One member's fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    /// End of the name in [`Chunk::names`].
    end: u32,
    a: u32,
    b: u32,
}

/// Up to [`CHUNK_MAX`] members in name order; never empty while in a set.
#[derive(Debug, Clone, Default)]
struct Chunk {
    members: Vec<Member>,
    names: String,
}

impl Chunk {
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.members[i - 1].end as usize
        }
    }

    fn name(&self, i: usize) -> &str {
        &self.names[self.start(i)..self.members[i].end as usize]
    }

    fn len(&self) -> usize {
        self.members.len()
    }

    /// `Ok(index)` of `name`, or `Err(index)` where it would go.
    fn search(&self, name: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn push(&mut self, name: &str, a: u32, b: u32) {
        self.names.push_str(name);
        self.members.push(Member {
            end: self.names.len() as u32,
            a,
            b,
        });
    }

    fn insert_at(&mut self, i: usize, name: &str, a: u32, b: u32) {
        let at = self.start(i);
        self.names.insert_str(at, name);
        let grow = name.len() as u32;
        for m in &mut self.members[i..] {
            m.end += grow;
        }
        self.members.insert(
            i,
            Member {
                end: (at + name.len()) as u32,
                a,
                b,
            },
        );
    }

    fn remove_at(&mut self, i: usize) -> (u32, u32) {
        let (start, end) = (self.start(i), self.members[i].end as usize);
        self.names.replace_range(start..end, "");
        let m = self.members.remove(i);
        let shrink = (end - start) as u32;
        for m in &mut self.members[i..] {
            m.end -= shrink;
        }
        (m.a, m.b)
    }

    /// Moves members from `at` on into a new chunk.
    fn split_off(&mut self, at: usize) -> Chunk {
        let cut = self.start(at);
        let names = self.names.split_off(cut);
        let members = self
            .members
            .split_off(at)
            .into_iter()
            .map(|m| Member {
                end: m.end - cut as u32,
                ..m
            })
            .collect();
        self.names.shrink_to_fit();
        self.members.shrink_to_fit();
        Chunk { members, names }
    }

    /// Appends all of `other`'s members (which sort after this chunk's).
    fn append(&mut self, other: &Chunk) {
        let base = self.names.len() as u32;
        self.names.push_str(&other.names);
        self.members.extend(other.members.iter().map(|m| Member {
            end: m.end + base,
            ..*m
        }));
    }
}

/// A sorted set of distinct names, each carrying two `u32`s.
#[derive(Debug, Clone, Default)]
pub struct PackedNames {
    /// Each chunk with the [`prefix`] of its first name, so that finding a chunk reads only
    /// this array unless two prefixes tie (it chased three pointers per step before: 3% of a
    /// create's CPU at 1M children).
    chunks: Vec<(u128, Arc<Chunk>)>,
    len: u32,
}

/// The first 16 bytes of `name`, big-endian, zero-padded: where two prefixes differ they order
/// as the names do (names hold no NUL, and a shorter name's padding sorts first); equal
/// prefixes say nothing.
fn prefix(name: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = name.len().min(16);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

impl PackedNames {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk `name` belongs in: the last whose first name is not after it (or the first).
    fn chunk_for(&self, name: &str) -> usize {
        let key = prefix(name);
        self.chunks
            .partition_point(|(p, c)| *p < key || (*p == key && c.name(0) <= name))
            .saturating_sub(1)
    }

    /// Re-reads chunk `ci`'s first name after a change.
    fn refresh(&mut self, ci: usize) {
        let (p, c) = &mut self.chunks[ci];
        *p = prefix(c.name(0));
    }

    fn push_chunk(&mut self, at: usize, c: Chunk) {
        self.chunks.insert(at, (prefix(c.name(0)), Arc::new(c)));
    }

    pub fn get(&self, name: &str) -> Option<(u32, u32)> {
        let (_, chunk) = self.chunks.get(self.chunk_for(name))?;
        let i = chunk.search(name).ok()?;
        let m = chunk.members[i];
        Some((m.a, m.b))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds `name` with its values; false (and nothing changes) if it is there already.
    pub fn insert(&mut self, name: &str, a: u32, b: u32) -> bool {
        if self.chunks.is_empty() {
            let mut c = Chunk::default();
            c.push(name, a, b);
            self.push_chunk(0, c);
            self.len = 1;
            return true;
        }
        let ci = self.chunk_for(name);
        let Err(i) = self.chunks[ci].1.search(name) else {
            return false;
        };
        let last = ci + 1 == self.chunks.len();
        let chunk = Arc::make_mut(&mut self.chunks[ci].1);
        if chunk.len() < CHUNK_MAX {
            chunk.insert_at(i, name, a, b);
        } else if last && i == chunk.len() {
            // Names that arrive in order (sequential nodes) fill each chunk to the top.
            chunk.names.shrink_to_fit();
            let mut c = Chunk::default();
            c.push(name, a, b);
            self.push_chunk(ci + 1, c);
        } else {
            let mut right = chunk.split_off(CHUNK_MAX / 2);
            if i <= CHUNK_MAX / 2 {
                chunk.insert_at(i, name, a, b);
            } else {
                right.insert_at(i - CHUNK_MAX / 2, name, a, b);
            }
            self.push_chunk(ci + 1, right);
        }
        if i == 0 {
            self.refresh(ci);
        }
        self.len += 1;
        true
    }

    /// Takes `name` out, returning its values.
    pub fn remove(&mut self, name: &str) -> Option<(u32, u32)> {
        let ci = self.chunk_for(name);
        let i = self.chunks.get(ci)?.1.search(name).ok()?;
        let values = Arc::make_mut(&mut self.chunks[ci].1).remove_at(i);
        self.len -= 1;
        let left = self.chunks[ci].1.len();
        if left == 0 {
            self.chunks.remove(ci);
            return Some(values);
        }
        if i == 0 {
            self.refresh(ci);
        }
        if let Some((_, next)) = self.chunks.get(ci + 1) {
            // Neighbours that fit in half a chunk merge, so deletes cannot leave a chunk per name.
            if left + next.len() <= CHUNK_MAX / 2 {
                let (_, next) = self.chunks.remove(ci + 1);
                Arc::make_mut(&mut self.chunks[ci].1).append(&next);
            }
        }
        Some(values)
    }

    /// Members in name order, with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32, u32)> + '_ {
        self.chunks.iter().flat_map(|(_, c)| {
            c.members
                .iter()
                .enumerate()
                .map(move |(i, m)| (c.name(i), m.a, m.b))
        })
    }
}

impl PartialEq for PackedNames {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for PackedNames {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tiny deterministic generator (xorshift), so the test needs no crate and always runs
    /// the same sequence.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn check(set: &PackedNames, model: &BTreeMap<String, (u32, u32)>) {
        assert_eq!(set.len(), model.len());
        let got: Vec<(&str, u32, u32)> = set.iter().collect();
        let want: Vec<(&str, u32, u32)> = model
            .iter()
            .map(|(k, (a, b))| (k.as_str(), *a, *b))
            .collect();
        assert_eq!(got, want);
        for (p, c) in &set.chunks {
            assert!(c.len() > 0 && c.len() <= CHUNK_MAX);
            assert_eq!(*p, prefix(c.name(0)));
        }
    }

    #[test]
    fn behaves_like_a_sorted_map_under_random_inserts_and_removes() {
        random_ops(|i| format!("n{i}"));
        // Names alike in their first 16 bytes: chunks are found by the names themselves.
        random_ops(|i| format!("_c_0123456789abcdef-lock-{i:010}"));
    }

    fn random_ops(key: impl Fn(u64) -> String) {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut set = PackedNames::default();
        let mut model = BTreeMap::new();
        for step in 0..20_000u32 {
            let key = key(next(&mut state) % 1500);
            if next(&mut state).is_multiple_of(3) {
                assert_eq!(set.remove(&key), model.remove(&key), "{step}: remove {key}");
            } else {
                let fresh = !model.contains_key(&key);
                assert_eq!(
                    set.insert(&key, step, step ^ 7),
                    fresh,
                    "{step}: insert {key}"
                );
                model.entry(key.clone()).or_insert((step, step ^ 7));
            }
            assert_eq!(set.get(&key), model.get(&key).copied());
            if step.is_multiple_of(997) {
                check(&set, &model);
            }
        }
        check(&set, &model);
        for k in model.keys().cloned().collect::<Vec<_>>() {
            assert_eq!(set.remove(&k), model.remove(&k));
        }
        check(&set, &model);
        assert!(set.chunks.is_empty());
    }

    #[test]
    fn names_in_order_fill_whole_chunks() {
        let mut set = PackedNames::default();
        for i in 0..1000u32 {
            assert!(set.insert(&format!("seq{i:010}"), i, 0));
        }
        assert_eq!(set.chunks.len(), 1000usize.div_ceil(CHUNK_MAX));
        assert!(!set.insert("seq0000000500", 0, 0));
        assert_eq!(set.get("seq0000000500"), Some((500, 0)));
    }

    #[test]
    fn a_copy_shares_chunks_until_one_is_written() {
        let mut set = PackedNames::default();
        for i in 0..1000u32 {
            set.insert(&format!("k{i:04}"), i, 0);
        }
        let copy = set.clone();
        set.insert("k0500x", 1, 1);
        set.remove("k0001");
        let shared = set
            .chunks
            .iter()
            .filter(|(_, c)| copy.chunks.iter().any(|(_, d)| Arc::ptr_eq(c, d)))
            .count();
        assert!(
            shared >= set.chunks.len() - 3,
            "{shared} of {}",
            set.chunks.len()
        );
        assert_eq!(copy.len(), 1000);
        assert!(copy.contains("k0001") && !copy.contains("k0500x"));
        assert!(!set.contains("k0001") && set.contains("k0500x"));
    }

    #[test]
    fn empty_names_and_multibyte_names_work() {
        let mut set = PackedNames::default();
        for n in ["", "é", "ab", "a", "日本"] {
            assert!(set.insert(n, 0, 0));
        }
        let got: Vec<&str> = set.iter().map(|(n, _, _)| n).collect();
        assert_eq!(got, ["", "a", "ab", "é", "日本"]);
        assert_eq!(set.remove(""), Some((0, 0)));
        assert!(set.contains("日本"));
    }
}
