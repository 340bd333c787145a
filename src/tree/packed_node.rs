//! A znode packed into one allocation: its reference count, ACL and children pointers, then its
//! path, its value and its stat, the stat's longs and ints as varints (most are 0 or equal to
//! another field, and cost one bit in a mask then).
//!
//! Why: a node was an `Arc` of a fixed struct (the stat alone 60 bytes) pointing at its path and
//! its value, three allocations that with mimalloc's size classes took 112 + 24 + 112 bytes for
//! a 17-byte path and a 100-byte value. Packed, the same node is 155 bytes in the 160-byte
//! class. An entry is never changed once built: a write builds a new one (see
//! `node_map::NodeMut`), so a snapshot's view can share entries with the live tree and encode
//! them without the tree's lock.
//!
//! Body layout: `[mask u8][path length][value tag][path][value][czxid][ctime][the fields the mask
//! marks]`, lengths and tag as LEB128 varints (tag 0 for null data, else length + 1), the
//! stat's fields zigzag varints (mzxid and pzxid as differences from czxid, mtime from ctime),
//! the ephemeral owner 8 bytes little-endian (session ids use every bit).

use super::{AclList, ChildSet, Node, Value};
use std::alloc::{self, Layout};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use zk_codec::records::StatPersisted;

#[repr(C)]
struct Head {
    count: AtomicU32,
    /// The body's length; [`HOLLOW`] marks an entry whose ACL and children were moved out.
    len: u32,
    acl: ManuallyDrop<AclList>,
    children: ManuallyDrop<ChildSet>,
}

const HOLLOW: u32 = 1 << 31;
const HEAD: usize = std::mem::size_of::<Head>();

/// Mask bits: a stat field that differs from what it is compared with (0, or another field).
const MZXID: u8 = 1;
const PZXID: u8 = 1 << 1;
const MTIME: u8 = 1 << 2;
const VERSION: u8 = 1 << 3;
const CVERSION: u8 = 1 << 4;
const AVERSION: u8 = 1 << 5;
const OWNER: u8 = 1 << 6;

/// The most a stat takes: two full varints, three differences, three ints and the owner.
const STAT_MAX: usize = 5 * 10 + 3 * 5 + 8;

/// One packed node, 8 bytes wide: a reference-counted pointer to an immutable allocation.
pub struct Entry(NonNull<Head>);

// SAFETY: an entry is immutable while shared (the one write, `take_node`, needs the only
// reference and `&mut`), its count is atomic, and what it holds (an `Arc` and a set of boxed
// chunks behind `Arc`s) is Send and Sync itself; see `_holds_send_and_sync`.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

fn _holds_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<AclList>();
    is::<ChildSet>();
}

fn layout(body: usize) -> Layout {
    Layout::from_size_align(HEAD + body, std::mem::align_of::<Head>()).expect("node size")
}

/// A node as read from its entry: the stat decoded, the rest borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef<'a> {
    pub data: Option<&'a [u8]>,
    pub acl: &'a AclList,
    pub stat: StatPersisted,
    pub children: &'a ChildSet,
}

impl NodeRef<'_> {
    /// The value's length (0 for null data).
    pub fn data_len(&self) -> usize {
        self.data.map_or(0, <[u8]>::len)
    }

    /// An owned copy.
    pub fn to_node(&self) -> Node {
        Node {
            data: self.data.map(Value::from),
            acl: self.acl.clone(),
            stat: self.stat.clone(),
            children: self.children.clone(),
        }
    }
}

impl Node {
    /// This node as a [`NodeRef`] (what the readers of the map take).
    pub fn as_ref(&self) -> NodeRef<'_> {
        NodeRef {
            data: self.data.as_deref(),
            acl: &self.acl,
            stat: self.stat.clone(),
            children: &self.children,
        }
    }
}

/// A node's parts other than its value, taken out of its entry for a write that leaves the
/// value as it is (see `NodeMap::update`).
pub struct Meta {
    pub stat: StatPersisted,
    pub acl: AclList,
    pub children: ChildSet,
}

/// A small stack buffer the varints are written into.
struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf {
            bytes: [0; N],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }

    fn signed(&mut self, v: i64) {
        self.var(((v << 1) ^ (v >> 63)) as u64);
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Reads what [`Buf`] wrote; the bytes are the entry's own, so they are well formed.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn var(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.bytes[self.at];
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    fn signed(&mut self) -> i64 {
        let u = self.var();
        (u >> 1) as i64 ^ -((u & 1) as i64)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        s
    }
}

fn encode_stat(st: &StatPersisted) -> (u8, Buf<STAT_MAX>) {
    let mut mask = 0u8;
    let mut b = Buf::new();
    b.signed(st.czxid);
    b.signed(st.ctime);
    let diffs = [
        (MZXID, st.mzxid, st.czxid),
        (PZXID, st.pzxid, st.czxid),
        (MTIME, st.mtime, st.ctime),
    ];
    for (bit, v, base) in diffs {
        if v != base {
            mask |= bit;
            b.signed(v.wrapping_sub(base));
        }
    }
    for (bit, v) in [
        (VERSION, st.version),
        (CVERSION, st.cversion),
        (AVERSION, st.aversion),
    ] {
        if v != 0 {
            mask |= bit;
            b.signed(i64::from(v));
        }
    }
    if st.ephemeral_owner != 0 {
        mask |= OWNER;
        for byte in st.ephemeral_owner.to_le_bytes() {
            b.push(byte);
        }
    }
    (mask, b)
}

fn decode_stat(mask: u8, bytes: &[u8]) -> StatPersisted {
    let mut c = Cursor { bytes, at: 0 };
    let czxid = c.signed();
    let ctime = c.signed();
    let mut diff = |bit: u8, base: i64| {
        if mask & bit == 0 {
            base
        } else {
            base.wrapping_add(c.signed())
        }
    };
    let mzxid = diff(MZXID, czxid);
    let pzxid = diff(PZXID, czxid);
    let mtime = diff(MTIME, ctime);
    let mut int = |bit: u8| {
        if mask & bit == 0 {
            0
        } else {
            c.signed() as i32
        }
    };
    let version = int(VERSION);
    let cversion = int(CVERSION);
    let aversion = int(AVERSION);
    let ephemeral_owner = if mask & OWNER == 0 {
        0
    } else {
        let b = c.take(8);
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    };
    StatPersisted {
        czxid,
        mzxid,
        ctime,
        mtime,
        version,
        cversion,
        aversion,
        ephemeral_owner,
        pzxid,
    }
}

/// The body split at its lengths.
struct Parts<'a> {
    mask: u8,
    path: &'a str,
    data: Option<&'a [u8]>,
    stat: &'a [u8],
}

impl Entry {
    /// Packs a node; the ACL and the children move into the entry, path and value are copied.
    ///
    /// # Panics
    /// A body of 2 GiB or more (a znode is bounded by jute.maxbuffer far below that).
    pub fn pack(
        path: &str,
        data: Option<&[u8]>,
        stat: &StatPersisted,
        acl: AclList,
        children: ChildSet,
    ) -> Entry {
        let (mask, stat) = encode_stat(stat);
        let mut front = Buf::<21>::new();
        front.push(mask);
        front.var(path.len() as u64);
        front.var(data.map_or(0, |d| d.len() as u64 + 1));
        let data = data.unwrap_or_default();
        let body = front.len + path.len() + data.len() + stat.len;
        let len = u32::try_from(body)
            .ok()
            .filter(|l| l & HOLLOW == 0)
            .expect("node over 2 GiB");
        let layout = layout(body);
        // SAFETY: the layout is not zero-sized (it holds the head) and is aligned for Head; the
        // head is written at the start and the body's pieces right after it, `body` bytes in
        // all, which is what the layout holds past the head.
        unsafe {
            let Some(p) = NonNull::new(alloc::alloc(layout)) else {
                alloc::handle_alloc_error(layout)
            };
            let head = p.cast::<Head>();
            head.as_ptr().write(Head {
                count: AtomicU32::new(1),
                len,
                acl: ManuallyDrop::new(acl),
                children: ManuallyDrop::new(children),
            });
            let mut at = p.as_ptr().add(HEAD);
            for piece in [front.as_slice(), path.as_bytes(), data, stat.as_slice()] {
                std::ptr::copy_nonoverlapping(piece.as_ptr(), at, piece.len());
                at = at.add(piece.len());
            }
            Entry(head)
        }
    }

    /// Packs an owned node.
    pub fn new(path: &str, node: Node) -> Entry {
        Entry::pack(
            path,
            node.data.as_deref(),
            &node.stat,
            node.acl,
            node.children,
        )
    }

    fn head(&self) -> &Head {
        // SAFETY: the allocation lives while any entry points at it.
        unsafe { self.0.as_ref() }
    }

    fn body(&self) -> &[u8] {
        let len = (self.head().len & !HOLLOW) as usize;
        // SAFETY: `pack` wrote `len` bytes right after the head; they never change.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>().add(HEAD), len) }
    }

    fn parts(&self) -> Parts<'_> {
        let mut c = Cursor {
            bytes: self.body(),
            at: 1,
        };
        let mask = c.bytes[0];
        let path_len = c.var() as usize;
        let tag = c.var() as usize;
        let path = c.take(path_len);
        let data = tag.checked_sub(1).map(|n| c.take(n));
        Parts {
            mask,
            // SAFETY: `pack` copied these bytes from a `&str`.
            path: unsafe { std::str::from_utf8_unchecked(path) },
            data,
            stat: &c.bytes[c.at..],
        }
    }

    pub fn path(&self) -> &str {
        self.parts().path
    }

    /// The value (readable on a hollow entry too: the body stays).
    pub fn data(&self) -> Option<&[u8]> {
        self.parts().data
    }

    /// The node, its stat decoded.
    ///
    /// # Panics
    /// On an entry emptied by `take_node` (its replacement is stored before anyone can read).
    pub fn node(&self) -> NodeRef<'_> {
        let head = self.head();
        assert!(head.len & HOLLOW == 0, "read of an emptied node entry");
        let p = self.parts();
        NodeRef {
            data: p.data,
            acl: &head.acl,
            stat: decode_stat(p.mask, p.stat),
            children: &head.children,
        }
    }

    /// The node, owned (the value copied); see [`Entry::take_shared`].
    pub fn take_node(&mut self) -> Node {
        let (data, stat) = {
            let p = self.node();
            (p.data.map(Value::from), p.stat)
        };
        let (acl, children) = self.take_shared();
        Node {
            data,
            acl,
            stat,
            children,
        }
    }

    /// The ACL and the children, moved out when this is the entry's only reference (then the
    /// entry is left hollow and must be replaced or dropped, not read), cloned otherwise (a
    /// snapshot view still holds it).
    pub fn take_shared(&mut self) -> (AclList, ChildSet) {
        if self.head().count.load(Ordering::Acquire) != 1 {
            let p = self.node();
            return (p.acl.clone(), p.children.clone());
        }
        // SAFETY: the count is 1 and we hold `&mut self`, so nothing else can reach the head;
        // the moved fields are marked so that neither a read nor the drop touches them again.
        unsafe {
            let head = self.0.as_ptr();
            let acl = ManuallyDrop::take(&mut (*head).acl);
            let children = ManuallyDrop::take(&mut (*head).children);
            (*head).len |= HOLLOW;
            (acl, children)
        }
    }

    /// Where the allocation starts (for prefetching).
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr().cast::<u8>()
    }

    /// The allocation's size (for prefetching).
    pub fn size(&self) -> usize {
        HEAD + (self.head().len & !HOLLOW) as usize
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        // Relaxed as in `Arc`: a new reference is made from an existing one.
        if self.head().count.fetch_add(1, Ordering::Relaxed) > u32::MAX / 2 {
            std::process::abort();
        }
        Entry(self.0)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.head().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: this was the last reference; the ACL and children are dropped unless
        // `take_node` moved them out, then the allocation is freed with the layout it was made
        // with.
        unsafe {
            let head = self.0.as_ptr();
            let len = (*head).len;
            if len & HOLLOW == 0 {
                ManuallyDrop::drop(&mut (*head).acl);
                ManuallyDrop::drop(&mut (*head).children);
            }
            alloc::dealloc(head.cast::<u8>(), layout((len & !HOLLOW) as usize));
        }
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.path() == other.path() && self.node() == other.node()
    }
}

impl Eq for Entry {}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("path", &self.path())
            .field("node", &self.node())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use zk_codec::records::Acl;

    fn stat(seed: i64) -> StatPersisted {
        StatPersisted {
            czxid: seed,
            mzxid: seed.wrapping_mul(3),
            ctime: seed.wrapping_add(7),
            mtime: -seed,
            version: seed as i32,
            cversion: (seed >> 3) as i32,
            aversion: -(seed as i32),
            ephemeral_owner: seed.rotate_left(17),
            pzxid: seed ^ 0x5555,
        }
    }

    #[test]
    fn every_stat_field_survives_packing_at_its_extremes() {
        let seeds = [0, 1, -1, 63, 64, 1 << 32, i64::MAX, i64::MIN, 0x1_0000_0123];
        let acl: AclList = Arc::new(Acl::open_unsafe());
        for s in seeds {
            let sparse = StatPersisted {
                czxid: s,
                ephemeral_owner: s,
                ..Default::default()
            };
            for st in [stat(s), StatPersisted::default(), sparse] {
                let e = Entry::pack("/a/b", Some(b"v"), &st, acl.clone(), ChildSet::default());
                assert_eq!(e.node().stat, st, "seed {s}");
            }
        }
    }

    #[test]
    fn path_value_and_null_are_kept_apart() {
        let acl: AclList = Arc::new(Acl::open_unsafe());
        let st = stat(0x1_0000_0001);
        let big = vec![7u8; 300];
        for (path, data) in [
            ("/", None),
            ("/", Some(&[][..])),
            ("/p", Some(&big[..])),
            ("/é/ü", Some(&b"x"[..])),
        ] {
            let e = Entry::pack(path, data, &st, acl.clone(), ChildSet::default());
            assert_eq!(e.path(), path);
            assert_eq!(e.node().data, data);
            assert_eq!(e.node().stat, st);
            let copy = e.clone();
            drop(e);
            assert_eq!(copy.node().data, data);
        }
    }

    #[test]
    fn a_unique_entry_gives_up_its_acl_and_children_and_a_shared_one_clones_them() {
        let acl: AclList = Arc::new(Acl::open_unsafe());
        let mut kids = ChildSet::default();
        kids.insert("c", super::super::hash_order::CHILDREN_INITIAL_LOG2);
        let st = stat(5);
        let mut e = Entry::pack("/p", Some(b"d"), &st, acl.clone(), kids.clone());
        let view = e.clone();
        let shared = e.take_node();
        assert_eq!(shared.children, kids);
        assert_eq!(Arc::strong_count(&acl), 3, "ours, the entry's, the copy's");
        drop(view);
        let owned = e.take_node();
        assert_eq!(owned.as_ref(), shared.as_ref());
        assert_eq!(Arc::strong_count(&acl), 3, "moved out, not cloned");
        assert_eq!(e.path(), "/p", "a hollow entry keeps its path");
        drop(e);
        assert_eq!(
            Arc::strong_count(&acl),
            3,
            "the hollow entry dropped nothing it gave up"
        );
        drop((shared, owned));
        assert_eq!(Arc::strong_count(&acl), 1);
    }

    /// A 17-byte path, a 100-byte value and a fresh node's stat (zxid of epoch 1, a current
    /// time) fill 155 bytes: mimalloc's 160-byte class, one allocation per znode.
    #[test]
    fn a_fresh_znode_with_a_100_byte_value_fits_160_bytes() {
        let st = StatPersisted {
            czxid: (1 << 32) | 123_456,
            mzxid: (1 << 32) | 123_456,
            pzxid: (1 << 32) | 123_456,
            ctime: 1_796_000_000_000,
            mtime: 1_796_000_000_000,
            ..Default::default()
        };
        let e = Entry::pack(
            "/rzk-bench/k12345",
            Some(&[1u8; 100]),
            &st,
            Arc::new(Acl::open_unsafe()),
            ChildSet::default(),
        );
        assert!(e.size() <= 160, "{}", e.size());
        assert_eq!(std::mem::size_of::<Entry>(), 8);
    }
}
