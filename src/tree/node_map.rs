//! The znode store: records in an [`Arena`], each node found by its name in its parent's child
//! table (a hash table of 4-byte handles), so that neither a path map nor a list of child names
//! costs anything per node. A node with children owns a [`Dir`]: its table, the capacity Java's
//! `HashSet` would have (for the listing order, see `hash_order`), and the two stat fields a
//! child's create or delete changes (cversion, pzxid), kept there so that creating a child does
//! not rewrite the parent's record.
//!
//! Records are never changed in place: a write appends a new one and points the parent's table
//! at it; the old one is garbage, and a chunk mostly garbage is compacted (each live record is
//! found through its parent's table, copied out and re-pointed). A snapshot's [`View`] copies
//! the tables' handles (4 bytes per node, under the tree's lock) and holds the chunks, so it
//! reads every node as it was while the tree goes on.

use super::arena::{fill_slot, Arena, Base, Frozen, Handle};
use super::hash_order::{java_hash, CHILDREN_INITIAL_LOG2, MIN_TREEIFY_LOG2, TREEIFY_THRESHOLD};
use super::record::{self, Fields, Rec};
use super::{path, prefetch, AclList, Node, Value};
use hashbrown::hash_table::HashTable;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use zk_codec::records::StatPersisted;

/// A node's child table and the stat fields its children change.
struct Dir {
    table: HashTable<Handle>,
    cversion: i32,
    pzxid: i64,
    /// log2 of the Java table size.
    cap_log2: u8,
    /// The children in listing order, once listed (tables of up to [`ORDER_KEPT`]): computing
    /// it reads every child's record and sorts, a third of a getChildren of 100. Emptied by
    /// every change to the table or the size.
    order: OnceLock<Box<[Handle]>>,
}

/// The largest table whose listing order is kept (4 bytes a child while kept).
const ORDER_KEPT: usize = 1024;

/// The store.
pub struct NodeMap {
    arena: Arena,
    dirs: Vec<Option<Dir>>,
    free_dirs: Vec<u32>,
    root: Option<Handle>,
    len: usize,
    /// ahash with per-process random keys: client-chosen names cannot be made to collide.
    hasher: ahash::RandomState,
    /// ACL lists by number (records hold the number); never shrinks, like the tree's intern
    /// set.
    acls: Vec<AclList>,
    acl_ids: HashMap<usize, u32>,
    /// Where a record is encoded before it is copied into the arena.
    scratch: Vec<u8>,
}

impl Default for NodeMap {
    fn default() -> Self {
        NodeMap {
            arena: Arena::default(),
            dirs: Vec::new(),
            free_dirs: Vec::new(),
            root: None,
            len: 0,
            hasher: ahash::RandomState::new(),
            acls: Vec::new(),
            acl_ids: HashMap::new(),
            scratch: Vec::new(),
        }
    }
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMap")
            .field("nodes", &self.len)
            .field("dirs", &(self.dirs.len() - self.free_dirs.len()))
            .field("bytes", &self.arena.footprint())
            .finish()
    }
}

/// A node as read from the store: the stat decoded, the rest borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef<'a> {
    pub data: Option<&'a [u8]>,
    pub acl: &'a AclList,
    pub stat: StatPersisted,
    pub children: Children<'a>,
}

impl NodeRef<'_> {
    /// The value's length (0 for null data).
    pub fn data_len(&self) -> usize {
        self.data.map_or(0, <[u8]>::len)
    }

    /// An owned copy (without the children).
    pub fn to_node(&self) -> Node {
        Node {
            data: self.data.map(Value::from),
            acl: self.acl.clone(),
            stat: self.stat.clone(),
        }
    }
}

/// A node's children, read through its table.
#[derive(Clone, Copy)]
pub struct Children<'a> {
    dir: Option<&'a Dir>,
    arena: &'a Arena,
}

impl<'a> Children<'a> {
    pub fn len(&self) -> usize {
        self.dir.map_or(0, |d| d.table.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names in no particular order (for walks where order does not show).
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let arena = self.arena;
        self.dir
            .into_iter()
            .flat_map(|d| d.table.iter())
            .map(move |&h| name_in(arena, h))
    }

    /// The Java table size's log2 (before the first child, that of the table the first add
    /// makes).
    pub fn cap_log2(&self) -> u8 {
        self.dir.map_or(CHILDREN_INITIAL_LOG2, |d| d.cap_log2)
    }

    /// Names in Java `HashSet` iteration order: by bucket, then in insertion order, which is
    /// creation order (czxid; by name between children one multi created together).
    pub fn java_order(&self) -> Vec<&'a str> {
        let Some(d) = self.dir else {
            return Vec::new();
        };
        let name = |&h: &Handle| name_in(self.arena, h);
        if d.table.len() > ORDER_KEPT {
            return self.order_of(d).iter().map(name).collect();
        }
        d.order
            .get_or_init(|| self.order_of(d).into_boxed_slice())
            .iter()
            .map(name)
            .collect()
    }

    fn order_of(&self, d: &Dir) -> Vec<Handle> {
        let mask = (1u32 << d.cap_log2) - 1;
        // One integer key (bucket, then czxid) compares faster than a tuple.
        let mut v: Vec<(u128, &str, Handle)> = d
            .table
            .iter()
            .map(|&h| {
                // SAFETY: `h` is a live record of the arena, borrowed as long as the result.
                let (name, czxid) = unsafe { record::name_and_czxid(self.arena.at(h)) };
                let bucket = u128::from(java_hash(name) & mask);
                (bucket << 64 | u128::from(czxid as u64 ^ 1 << 63), name, h)
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, h)| h).collect()
    }

    fn sorted(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.iter().collect();
        v.sort_unstable();
        v
    }
}

impl PartialEq for Children<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cap_log2() == other.cap_log2() && self.sorted() == other.sorted()
    }
}

impl Eq for Children<'_> {}

impl std::fmt::Debug for Children<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.sorted()).finish()
    }
}

/// A node's parts other than its value and children, for [`NodeMap::update`].
pub struct Meta {
    pub stat: StatPersisted,
    pub acl: AclList,
}

/// A node taken out of the store for a write; stored back when this is dropped.
pub struct NodeMut<'a> {
    map: &'a mut NodeMap,
    path: String,
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
            let path = std::mem::take(&mut self.path);
            // The node was read from this path a moment ago, so its parent is there.
            let _ = self.map.put_owned(&path, node, false);
        }
    }
}

fn name_in(arena: &Arena, h: Handle) -> &str {
    // SAFETY: `h` is a live record of `arena`, borrowed as long as the result.
    unsafe { record::name(arena.at(h)).name }
}

fn rec_in(arena: &Arena, h: Handle) -> Rec<'_> {
    // SAFETY: as above.
    unsafe { record::decode(arena.at(h)) }
}

/// A node read from a snapshot, its ACL already numbered by [`NodeMap::acl_id`].
pub struct Loaded<'a> {
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
    pub acl: u32,
    pub stat: StatPersisted,
}

/// Why a node could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    NoParent,
    Exists,
}

impl NodeMap {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn rec(&self, h: Handle) -> Rec<'_> {
        rec_in(&self.arena, h)
    }

    /// A record whose borrow is not tied to `self`.
    ///
    /// # Safety
    /// The result must not be used after the record is killed (its chunk may be freed then) or
    /// after `self` is dropped.
    unsafe fn rec_detached<'x>(&self, h: Handle) -> Rec<'x> {
        record::decode(self.arena.at(h))
    }

    fn dir_of(&self, h: Handle) -> Option<u32> {
        // SAFETY: `h` is a live record of the arena.
        unsafe { record::dir(self.arena.at(h)) }
    }

    fn child(&self, d: u32, name: &str) -> Option<Handle> {
        let arena = &self.arena;
        self.dirs[d as usize]
            .as_ref()?
            .table
            .find(self.hash(name), |&c| name_in(arena, c) == name)
            .copied()
    }

    fn find(&self, path: &str) -> Option<Handle> {
        let mut h = self.root?;
        if path == "/" {
            return Some(h);
        }
        for name in path.strip_prefix('/')?.split('/') {
            h = self.child(self.dir_of(h)?, name)?;
        }
        Some(h)
    }

    /// A record's stat with its table's child fields (the table's are the current ones).
    fn stat_of(&self, r: &Rec<'_>) -> StatPersisted {
        let mut stat = r.stat.clone();
        if let Some(d) = r.dir.and_then(|d| self.dirs[d as usize].as_ref()) {
            stat.cversion = d.cversion;
            stat.pzxid = d.pzxid;
        }
        stat
    }

    fn node_ref(&self, h: Handle) -> NodeRef<'_> {
        let r = self.rec(h);
        let dir = r.dir.and_then(|d| self.dirs[d as usize].as_ref());
        let stat = self.stat_of(&r);
        NodeRef {
            data: r.data,
            acl: &self.acls[r.acl as usize],
            stat,
            children: Children {
                dir,
                arena: &self.arena,
            },
        }
    }

    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        self.find(path).map(|h| self.node_ref(h))
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The number records keep for `acl` (lists are told apart by address: the tree interns
    /// them).
    pub fn acl_id(&mut self, acl: &AclList) -> u32 {
        let key = Arc::as_ptr(acl) as usize;
        if let Some(&id) = self.acl_ids.get(&key) {
            return id;
        }
        let id = self.acls.len() as u32;
        self.acls.push(acl.clone());
        self.acl_ids.insert(key, id);
        id
    }

    /// Encodes and stores a record.
    fn write(&mut self, f: &Fields<'_>) -> Handle {
        let mut scratch = std::mem::take(&mut self.scratch);
        let big = f.name.len() + f.data.map_or(0, <[u8]>::len) > super::arena::INLINE_MAX - 64;
        let h = if big {
            record::encode(&mut scratch, f, Base::default());
            self.arena.put_alone(&scratch)
        } else {
            let current = self.arena.current_base().and_then(|base| {
                record::encode(&mut scratch, f, base);
                self.arena.fits(scratch.len()).then_some(())
            });
            if current.is_some() {
                self.arena.put_current(&scratch)
            } else {
                let base = record::own_base(f.stat);
                record::encode(&mut scratch, f, base);
                self.arena.put_new_chunk(&scratch, base)
            }
        };
        self.scratch = scratch;
        h
    }

    /// Points the slot that holds `old` (in `parent`'s table, or the root) at `new`.
    fn repoint(&mut self, parent: Option<u32>, name: &str, old: Handle, new: Handle) {
        match parent {
            None => self.root = Some(new),
            Some(p) => {
                let hash = self.hash(name);
                let dir = self.dirs[p as usize].as_mut().expect("parent table");
                dir.order.take();
                *dir.table
                    .find_mut(hash, |&c| c == old)
                    .expect("slot of a live node") = new;
            }
        }
    }

    /// Replaces the record at `h` with `f` (same parent and name).
    fn replace(&mut self, h: Handle, f: &Fields<'_>, old_len: usize) {
        let new = self.write(f);
        self.repoint(f.parent, f.name, h, new);
        self.arena.kill(h, old_len);
    }

    /// The table of the node at `h`, made (and the node's record rewritten to name it) if it
    /// has none yet.
    fn ensure_dir(&mut self, h: Handle) -> u32 {
        if let Some(d) = self.dir_of(h) {
            return d;
        }
        // SAFETY: used before `h` is killed (in `replace`, after the new record is written).
        let r = unsafe { self.rec_detached(h) };
        let dir = Dir {
            table: HashTable::new(),
            cversion: r.stat.cversion,
            pzxid: r.stat.pzxid,
            cap_log2: CHILDREN_INITIAL_LOG2,
            order: OnceLock::new(),
        };
        let d = fill_slot(&mut self.dirs, &mut self.free_dirs, dir);
        let f = Fields {
            dir: Some(d),
            ..r.fields()
        };
        self.replace(h, &f, r.len);
        d
    }

    /// A record rewritten with its stat's child fields also set in its table.
    fn sync_dir(&mut self, dir: Option<u32>, stat: &StatPersisted) {
        if let Some(d) = dir.and_then(|d| self.dirs[d as usize].as_mut()) {
            d.cversion = stat.cversion;
            d.pzxid = stat.pzxid;
        }
    }

    /// Stores a node at `path`: a new child of its parent (growing the parent's Java capacity
    /// when `grow`, as a `HashSet.add` would), or in place of the node there (keeping its
    /// children) unless `new_only`.
    fn put(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
        (grow, new_only): (bool, bool),
    ) -> Result<(), StoreError> {
        let (parent, name) = if path == "/" {
            (None, "")
        } else {
            let (parent_path, name) = path::split(path).ok_or(StoreError::NoParent)?;
            let ph = self.find(parent_path).ok_or(StoreError::NoParent)?;
            (Some(self.ensure_dir(ph)), name)
        };
        let there = match parent {
            None => self.root,
            Some(d) => self.child(d, name),
        };
        match (there, parent) {
            (Some(_), _) if new_only => return Err(StoreError::Exists),
            (Some(h), _) => {
                // SAFETY: killed only after the new record is written.
                let old = unsafe { self.rec_detached(h) };
                let f = Fields {
                    parent,
                    name,
                    dir: old.dir,
                    acl,
                    data,
                    stat,
                };
                self.replace(h, &f, old.len);
                self.sync_dir(old.dir, stat);
            }
            (None, Some(d)) => self.add_child(d, name, data, acl, stat, grow),
            (None, None) => {
                let f = Fields {
                    parent,
                    name,
                    dir: None,
                    acl,
                    data,
                    stat,
                };
                self.root = Some(self.write(&f));
                self.len += 1;
            }
        }
        self.compact_pending();
        Ok(())
    }

    /// Adds a node under table `d`, where no node of that name is.
    fn add_child(
        &mut self,
        d: u32,
        name: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: &StatPersisted,
        grow: bool,
    ) {
        if grow {
            self.grow_cap(d, name);
        }
        let h = self.write(&Fields {
            parent: Some(d),
            name,
            dir: None,
            acl,
            data,
            stat,
        });
        let hash = self.hash(name);
        let (arena, hasher) = (&self.arena, &self.hasher);
        let dir = self.dirs[d as usize].as_mut().expect("table just made");
        dir.order.take();
        dir.table
            .insert_unique(hash, h, |&c| hasher.hash_one(name_in(arena, c)));
        if grow && dir.table.len() > (3usize << dir.cap_log2) / 4 {
            dir.cap_log2 += 1;
        }
        self.len += 1;
    }

    /// Adds the nodes of a snapshot, each after its parent. Each parent's table is sized once
    /// for all its children (growing a table of a million re-reads every name each time it
    /// doubles: a quarter of a restart), and consecutive siblings skip the parent's lookup.
    ///
    /// # Errors
    /// The first node without a parent, or listed twice, with its position.
    pub fn load_all(&mut self, nodes: &[Loaded<'_>]) -> Result<(), (StoreError, usize)> {
        let mut counts: HashMap<&str, usize, ahash::RandomState> = HashMap::default();
        for n in nodes {
            if let Some((parent, _)) = path::split(n.path).filter(|_| n.path != "/") {
                *counts.entry(parent).or_default() += 1;
            }
        }
        let mut last: Option<(&str, u32)> = None;
        for (i, n) in nodes.iter().enumerate() {
            let Some((parent, name)) = path::split(n.path).filter(|_| n.path != "/") else {
                self.put(n.path, n.data, n.acl, &n.stat, (true, true))
                    .map_err(|e| (e, i))?;
                continue;
            };
            let d = match last {
                Some((p, d)) if p == parent => d,
                _ => {
                    let ph = self.find(parent).ok_or((StoreError::NoParent, i))?;
                    let d = self.ensure_dir(ph);
                    let want = counts.get(parent).copied().unwrap_or(0);
                    let (arena, hasher) = (&self.arena, &self.hasher);
                    let dir = self.dirs[d as usize].as_mut().expect("table just made");
                    dir.table
                        .reserve(want, |&c| hasher.hash_one(name_in(arena, c)));
                    last = Some((parent, d));
                    d
                }
            };
            if self.child(d, name).is_some() {
                return Err((StoreError::Exists, i));
            }
            self.add_child(d, name, n.data, n.acl, &n.stat, true);
        }
        Ok(())
    }

    /// `HashSet.add`'s growth on a crowded bucket of a small table (see `hash_order`).
    fn grow_cap(&mut self, d: u32, name: &str) {
        let dir = self.dirs[d as usize].as_ref().expect("table");
        if dir.cap_log2 >= MIN_TREEIFY_LOG2 {
            return;
        }
        let mask = (1u32 << dir.cap_log2) - 1;
        let hash = java_hash(name) & mask;
        let same = dir
            .table
            .iter()
            .filter(|&&c| java_hash(name_in(&self.arena, c)) & mask == hash)
            .count();
        if same >= TREEIFY_THRESHOLD {
            let dir = self.dirs[d as usize].as_mut().expect("table");
            dir.order.take();
            dir.cap_log2 += 1;
        }
    }

    /// Creates a node under its existing parent.
    ///
    /// # Errors
    /// No parent, or a node already there.
    pub fn create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &AclList,
        stat: &StatPersisted,
    ) -> Result<(), StoreError> {
        let acl = self.acl_id(acl);
        self.put(path, data, acl, stat, (true, true))
    }

    /// Stores an owned node, new or in place of the one there (whose children it keeps).
    ///
    /// # Errors
    /// No parent.
    pub fn insert(&mut self, path: &str, node: Node) -> Result<(), StoreError> {
        self.put_owned(path, node, true)
    }

    /// Puts back a node a rolled-back multi deleted: the parent's capacity stays as it was.
    pub fn restore(&mut self, path: &str, node: Node) -> Result<(), StoreError> {
        self.put_owned(path, node, false)
    }

    fn put_owned(&mut self, path: &str, node: Node, grow: bool) -> Result<(), StoreError> {
        let acl = self.acl_id(&node.acl);
        self.put(path, node.data.as_deref(), acl, &node.stat, (grow, false))
    }

    /// Unlinks a node (callers make sure it has no children) and returns it.
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let (parent_path, name) = path::split(path)?;
        let d = self.dir_of(self.find(parent_path)?)?;
        let h = self.child(d, name)?;
        let r = self.rec(h);
        let node = Node {
            data: r.data.map(Value::from),
            acl: self.acls[r.acl as usize].clone(),
            stat: self.stat_of(&r),
        };
        let (own, len) = (r.dir, r.len);
        let hash = self.hash(name);
        let dir = self.dirs[d as usize].as_mut().expect("parent table");
        dir.order.take();
        if let Ok(e) = dir.table.find_entry(hash, |&c| c == h) {
            e.remove();
        }
        if let Some(o) = own {
            self.dirs[o as usize] = None;
            self.free_dirs.push(o);
        }
        self.arena.kill(h, len);
        self.len -= 1;
        self.compact_pending();
        Some(node)
    }

    /// The node for a write, stored back when the guard drops.
    pub fn get_mut(&mut self, path: &str) -> Option<NodeMut<'_>> {
        let node = self.get(path)?.to_node();
        Some(NodeMut {
            map: self,
            path: path.to_string(),
            node: Some(node),
        })
    }

    /// Replaces a node's value and stat, keeping its ACL and children; the old value is not
    /// copied.
    pub fn set_data(&mut self, path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> bool {
        let Some(h) = self.find(path) else {
            return false;
        };
        // SAFETY: killed only after the new record is written.
        let r = unsafe { self.rec_detached(h) };
        let f = Fields {
            data,
            stat,
            ..r.fields()
        };
        self.replace(h, &f, r.len);
        self.sync_dir(r.dir, stat);
        self.compact_pending();
        true
    }

    /// Changes a node's stat or ACL; the value stays without an owned copy. A change of only
    /// cversion and pzxid (a parent's at each create and delete) goes into the node's table,
    /// not into a new record.
    pub fn update<R>(&mut self, path: &str, f: impl FnOnce(&mut Meta) -> R) -> Option<R> {
        let h = self.find(path)?;
        // SAFETY: killed only after the new record is written.
        let r = unsafe { self.rec_detached(h) };
        let mut meta = Meta {
            stat: self.stat_of(&r),
            acl: self.acls[r.acl as usize].clone(),
        };
        let out = f(&mut meta);
        let mut rest_same = meta.stat.clone();
        rest_same.cversion = r.stat.cversion;
        rest_same.pzxid = r.stat.pzxid;
        let unchanged = Arc::ptr_eq(&meta.acl, &self.acls[r.acl as usize]) && rest_same == r.stat;
        if r.dir.is_some() && unchanged {
            self.sync_dir(r.dir, &meta.stat);
            return Some(out);
        }
        let acl = self.acl_id(&meta.acl);
        let f = Fields {
            acl,
            stat: &meta.stat,
            ..r.fields()
        };
        self.replace(h, &f, r.len);
        self.sync_dir(r.dir, &meta.stat);
        self.compact_pending();
        Some(out)
    }

    /// Sets a node's Java table size back (a rolled-back create that grew it).
    pub fn set_child_cap(&mut self, path: &str, cap_log2: u8) {
        if let Some(d) = self.find(path).and_then(|h| self.dir_of(h)) {
            if let Some(dir) = self.dirs[d as usize].as_mut() {
                dir.order.take();
                dir.cap_log2 = cap_log2;
            }
        }
    }

    /// Compacts the chunks that writes left mostly garbage: each live record is copied to the
    /// current chunk and its slot re-pointed; the chunk is freed with its last live record.
    fn compact_pending(&mut self) {
        loop {
            let low = self.arena.take_low();
            if low.is_empty() {
                return;
            }
            for id in low {
                self.compact(id);
            }
        }
    }

    /// Moves chunk `id`'s live records to the current chunk; the chunk is freed with the last.
    fn compact(&mut self, id: usize) {
        if !self.arena.has_chunk(id) || self.arena.is_current(id) {
            return;
        }
        // SAFETY: the chunk is allocated, and `records` reads each record's length only.
        let handles = self
            .arena
            .records(id, |at| unsafe { record::decode(at) }.len);
        for h in handles {
            if !self.arena.has_chunk(id) {
                break;
            }
            // SAFETY: a live record is killed only after its copy is written; a dead one is
            // only looked at.
            let r = unsafe { self.rec_detached(h) };
            let live = match r.parent {
                None => self.root == Some(h),
                Some(p) => self.dirs[p as usize].as_ref().is_some_and(|d| {
                    d.table
                        .find(self.hasher.hash_one(r.name), |&c| c == h)
                        .is_some()
                }),
            };
            if live {
                let new = self.write(&r.fields());
                self.repoint(r.parent, r.name, h, new);
                self.arena.kill(h, r.len);
            }
        }
    }

    /// Every node at this moment, readable after the lock is released: the tables' handles
    /// copied (4 bytes a node) and the chunks held.
    pub fn view(&self) -> View {
        View {
            frozen: self.arena.freeze(),
            root: self.root,
            dirs: self
                .dirs
                .iter()
                .map(|d| {
                    d.as_ref().map(|d| DirView {
                        cversion: d.cversion,
                        pzxid: d.pzxid,
                        children: d.table.iter().copied().collect(),
                    })
                })
                .collect(),
            acls: self.acls.clone(),
            len: self.len,
        }
    }

    /// The subtree at `from` (absent: nothing), depth first, each node with its path.
    pub fn walk<'a>(&'a self, from: &str, mut f: impl FnMut(&str, NodeRef<'a>)) {
        let Some(start) = self.find(from) else {
            return;
        };
        let mut stack: Vec<(Handle, String)> = vec![(start, from.to_string())];
        while let Some((h, p)) = stack.pop() {
            let n = self.node_ref(h);
            if let Some(d) = n.children.dir {
                for &c in d.table.iter() {
                    stack.push((c, path::join(&p, name_in(&self.arena, c))));
                }
            }
            f(&p, n);
        }
    }

    /// Every node with its path (tests, and the built-in nodes' size).
    pub fn iter(&self) -> Vec<(String, NodeRef<'_>)> {
        let mut out = Vec::with_capacity(self.len);
        self.walk("/", |p, n| out.push((p.to_string(), n)));
        out
    }

    /// Bytes the records take in memory (chunks and lone records, garbage included).
    #[cfg(test)]
    pub fn footprint(&self) -> usize {
        self.arena.footprint()
    }
}

/// A node's table as a view saw it.
struct DirView {
    cversion: i32,
    pzxid: i64,
    children: Vec<Handle>,
}

/// Every node at one moment (see [`NodeMap::view`]).
pub struct View {
    frozen: Frozen,
    root: Option<Handle>,
    dirs: Vec<Option<DirView>>,
    acls: Vec<AclList>,
    len: usize,
}

/// One node as a [`View`] lists it.
pub struct ViewNode<'a> {
    pub data: Option<&'a [u8]>,
    /// The ACL's number in [`View::acls`].
    pub acl: u32,
    pub stat: StatPersisted,
    #[cfg_attr(not(test), allow(dead_code))]
    children: &'a [Handle],
    #[cfg_attr(not(test), allow(dead_code))]
    frozen: &'a Frozen,
}

impl<'a> ViewNode<'a> {
    /// Child names (what version 3 listed; the tests write it).
    #[cfg(test)]
    pub fn child_names(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let frozen = self.frozen;
        self.children.iter().map(move |&c| {
            // SAFETY: as in `View::rec`.
            unsafe { record::name(frozen.at(c)) }.name
        })
    }
}

impl View {
    pub fn len(&self) -> usize {
        self.len
    }

    /// ACL lists by the numbers nodes carry.
    pub fn acls(&self) -> &[AclList] {
        &self.acls
    }

    fn rec(&self, h: Handle) -> Rec<'_> {
        // SAFETY: the view holds every chunk and lone record its handles point into.
        unsafe { record::decode(self.frozen.at(h)) }
    }

    /// Every node, parents before children. Children come in handle order (sorting a million
    /// names instead took a fifth of the server's core at every snapshot during a create load).
    pub fn walk(&self, mut f: impl FnMut(&str, &ViewNode<'_>)) {
        let Some(root) = self.root else {
            return;
        };
        // (handle, depth); `ends[d]` is where the path of the node at depth d ends.
        let mut stack: Vec<(Handle, usize)> = vec![(root, 0)];
        let mut path = String::new();
        let mut ends: Vec<usize> = Vec::new();
        while let Some((h, depth)) = stack.pop() {
            if let Some(&(ahead, _)) = stack.len().checked_sub(prefetch::AHEAD).map(|i| &stack[i]) {
                prefetch::lines(self.frozen.at(ahead).ptr, 2);
            }
            let r = self.rec(h);
            ends.truncate(depth);
            path.truncate(ends.last().copied().unwrap_or(0));
            if depth == 0 {
                path.push('/');
            } else {
                if depth > 1 {
                    path.push('/');
                }
                path.push_str(r.name);
            }
            ends.push(path.len());
            let mut stat = r.stat;
            let mut children: &[Handle] = &[];
            if let Some(d) = r.dir.and_then(|d| self.dirs[d as usize].as_ref()) {
                stat.cversion = d.cversion;
                stat.pzxid = d.pzxid;
                children = &d.children;
            }
            f(
                &path,
                &ViewNode {
                    data: r.data,
                    acl: r.acl,
                    stat,
                    children,
                    frozen: &self.frozen,
                },
            );
            // In handle order, i.e. mostly the order the records lie in the arena: a walk in
            // table order waited on a cache miss per record.
            let from = stack.len();
            stack.extend(children.iter().map(|&c| (c, depth + 1)));
            stack[from..].sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_codec::records::Acl;

    fn node(version: i32, data: &[u8]) -> Node {
        Node {
            data: Some(data.into()),
            acl: Arc::new(Acl::open_unsafe()),
            stat: StatPersisted {
                version,
                czxid: 0x1_0000_0000 + i64::from(version),
                ctime: 1_765_000_000_000 + i64::from(version),
                ..Default::default()
            },
        }
    }

    fn with_root() -> NodeMap {
        let mut m = NodeMap::default();
        m.insert("/", node(0, b"")).unwrap();
        m
    }

    #[test]
    fn nodes_are_found_by_path_and_listed_under_their_parent() {
        let mut m = with_root();
        assert_eq!(m.insert("/a/b", node(1, b"x")), Err(StoreError::NoParent));
        m.insert("/a", node(1, b"a")).unwrap();
        m.insert("/a/b", node(2, b"b")).unwrap();
        m.insert("/a/c", node(3, b"")).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m.get("/a/b").unwrap().data, Some(&b"b"[..]));
        assert_eq!(m.get("/a").unwrap().children.len(), 2);
        assert!(m.get("/a/").is_none() && m.get("/a//b").is_none() && m.get("a").is_none());
        let acl = m.get("/a").unwrap().acl.clone();
        let stat = node(9, b"").stat;
        assert_eq!(m.create("/a/b", None, &acl, &stat), Err(StoreError::Exists));
        let mut names: Vec<&str> = m.get("/a").unwrap().children.iter().collect();
        names.sort_unstable();
        assert_eq!(names, ["b", "c"]);
        // The parent's child fields go into its table; the rest into a new record.
        m.update("/a", |meta| {
            meta.stat.cversion = 7;
            meta.stat.pzxid = 99;
        });
        let a = m.get("/a").unwrap();
        assert_eq!((a.stat.cversion, a.stat.pzxid, a.stat.version), (7, 99, 1));
        m.update("/a", |meta| meta.stat.version = 5);
        let a = m.get("/a").unwrap();
        assert_eq!(
            (a.stat.cversion, a.stat.version, a.data),
            (7, 5, Some(&b"a"[..]))
        );
        m.get_mut("/a/b").unwrap().stat.aversion = 3;
        assert_eq!(m.get("/a/b").unwrap().stat.aversion, 3);
        assert!(m.set_data("/a/c", None, &node(4, b"").stat));
        assert_eq!(m.get("/a/c").unwrap().data, None);
        let gone = m.remove("/a/b").unwrap();
        assert_eq!(gone.data.as_deref(), Some(&b"b"[..]));
        assert!(m.get("/a/b").is_none());
        assert_eq!(m.len(), 3);
        m.restore("/a/b", gone).unwrap();
        assert_eq!(m.get("/a/b").unwrap().stat.aversion, 3);
        let paths: Vec<String> = m.iter().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths.len(), 4);
        // A rolled-back first child leaves the table size a first child makes.
        let cap = m.get("/a/c").unwrap().children.cap_log2();
        m.insert("/a/c/x", node(5, b"")).unwrap();
        m.remove("/a/c/x").unwrap();
        m.set_child_cap("/a/c", cap);
        assert_eq!(
            m.get("/a/c").unwrap().children.cap_log2(),
            CHILDREN_INITIAL_LOG2
        );
    }

    #[test]
    fn a_view_keeps_what_it_saw_while_the_store_churns_and_compacts() {
        let mut m = with_root();
        m.insert("/p", node(1, b"")).unwrap();
        let value = [5u8; 100];
        let n = 20_000;
        for i in 0..n {
            m.insert(&format!("/p/k{i}"), node(i, &value)).unwrap();
        }
        let view = m.view();
        let before = m.footprint();
        // Rewrite every node twice and delete half: chunks go mostly garbage and compact.
        for round in 0..2 {
            for i in 0..n {
                let stat = node(i + 1000 * (round + 1), b"").stat;
                assert!(m.set_data(&format!("/p/k{i}"), Some(&[round as u8; 100]), &stat));
            }
        }
        for i in (0..n).step_by(2) {
            assert!(m.remove(&format!("/p/k{i}")).is_some());
        }
        assert_eq!(m.len(), 2 + n as usize / 2);
        for i in 0..n {
            let got = m.get(&format!("/p/k{i}"));
            if i % 2 == 0 {
                assert!(got.is_none());
            } else {
                let got = got.unwrap();
                assert_eq!(got.stat.version, i + 2000);
                assert_eq!(got.data, Some(&[1u8; 100][..]));
            }
        }
        // Compaction kept the store near its live size (half the nodes it had).
        assert!(m.footprint() < before, "{} vs {before}", m.footprint());
        let mut seen = 0;
        view.walk(|p, v| {
            if let Some(i) = p.strip_prefix("/p/k") {
                let i: i32 = i.parse().unwrap();
                assert_eq!(v.stat.version, i);
                assert_eq!(v.data, Some(&value[..]));
            }
            seen += 1;
        });
        assert_eq!(seen, n as usize + 2);
    }

    #[test]
    fn large_values_are_held_alone_and_read_back() {
        let mut m = with_root();
        let big = vec![9u8; 1 << 20];
        m.insert("/big", node(1, &big)).unwrap();
        m.insert("/small", node(2, b"s")).unwrap();
        assert_eq!(m.get("/big").unwrap().data, Some(&big[..]));
        let v = m.view();
        assert!(m.set_data("/big", Some(b"now small"), &node(3, b"").stat));
        assert_eq!(m.get("/big").unwrap().data, Some(&b"now small"[..]));
        let mut old = None;
        v.walk(|p, n| {
            if p == "/big" {
                old = n.data.map(<[u8]>::len);
            }
        });
        assert_eq!(old, Some(1 << 20));
    }

    /// The store's order (computed from names and czxids) against `HashOrderSet` (which keeps
    /// insertion numbers, and was checked against ZooKeeper's listings), through creates and
    /// deletes, with names that collide in Java ("Aa" and "BB" hash alike) to make small tables
    /// grow on a crowded bucket.
    #[test]
    fn children_list_in_java_hash_set_order() {
        use super::super::hash_order::HashOrderSet;
        let colliding = |bits: u32| -> String {
            (0..4)
                .map(|b| if bits >> b & 1 == 1 { "Aa" } else { "BB" })
                .collect()
        };
        for n in [1usize, 7, 13, 40, 300] {
            let mut m = with_root();
            m.insert("/p", node(1, b"")).unwrap();
            let mut model = HashOrderSet::default();
            let mut names: Vec<String> = (0..n).map(|i| format!("n{}", i * 31 % 997)).collect();
            names.extend((0..16.min(n as u32)).map(colliding));
            let mut zxid = 10;
            let mut step = |m: &mut NodeMap, model: &mut HashOrderSet, name: &str, add: bool| {
                zxid += 1;
                let path = format!("/p/{name}");
                if add {
                    let stat = StatPersisted {
                        czxid: zxid,
                        ..Default::default()
                    };
                    let acl = Arc::new(Acl::open_unsafe());
                    if m.create(&path, None, &acl, &stat).is_ok() {
                        model.insert(name, CHILDREN_INITIAL_LOG2);
                    }
                } else if m.remove(&path).is_some() {
                    assert!(model.remove(name));
                }
            };
            // Listed after every phase: a kept order must go with each change.
            let same = |m: &NodeMap, model: &HashOrderSet| {
                let p = m.get("/p").unwrap();
                assert_eq!(p.children.cap_log2(), model.cap_log2(), "{n} names");
                assert_eq!(p.children.java_order(), model.java_order(), "{n} names");
            };
            for name in &names {
                step(&mut m, &mut model, name, true);
            }
            same(&m, &model);
            for name in names.iter().step_by(3) {
                step(&mut m, &mut model, name, false);
            }
            same(&m, &model);
            for name in names.iter().step_by(6) {
                step(&mut m, &mut model, name, true);
            }
            same(&m, &model);
            // Rewritten children (new records, same order) are listed by their new records.
            for name in names.iter().skip(1).step_by(3) {
                let path = format!("/p/{name}");
                let stat = m.get(&path).unwrap().stat;
                assert!(m.set_data(&path, Some(b"new"), &stat));
            }
            same(&m, &model);
        }
        // ZooKeeper 3.8: `ls /` after creating /c1 then /a is `a zookeeper c1`.
        let mut m = with_root();
        for (i, name) in ["/zookeeper", "/c1", "/a"].iter().enumerate() {
            let stat = StatPersisted {
                czxid: i as i64,
                ..Default::default()
            };
            m.create(name, None, &Arc::new(Acl::open_unsafe()), &stat)
                .unwrap();
        }
        assert_eq!(
            m.get("/").unwrap().children.java_order(),
            ["a", "zookeeper", "c1"]
        );
    }
}
