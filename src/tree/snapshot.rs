//! The tree's snapshot encoding (the state machine part of a Raft snapshot), in jute
//! primitives: exactly the state at one log position, restored bit-for-bit.
//!
//! | field          | encoding                                                        |
//! |----------------|-----------------------------------------------------------------|
//! | version        | int 4 (3 and 2 are still read)                                  |
//! | last_zxid      | long                                                            |
//! | sessions       | int n, then n × {long id, int timeout}                          |
//! | acls           | int k, then k × vector<ACL> (each distinct ACL list once)       |
//! | nodes          | long n, int k, then k chunks of {long count, long bytes, count × node}, parents before their children |
//! | node           | var path length, path, var (data length + 1, 0 = null), data, var acl index, stat |
//! | stat           | byte flags, long czxid, long ctime, then only the fields the flags do not give: long mzxid (bit 0: = czxid), long pzxid (bit 1: = czxid), long mtime (bit 2: = ctime), int version (bit 3: 0), int cversion (bit 4: 0), int aversion (bit 5: 0), long ephemeralOwner (bit 6: 0) |
//!
//! `var` is an unsigned LEB128 varint. Version 2 wrote every length and the ACL index as an int
//! and the whole StatPersisted (60 bytes; a node never written to since its creation needs 17
//! of them now): 194 bytes for a 100-byte value under an 18-byte path, 139 now.
//!
//! The chunks let a load parse nodes on several threads (only the map inserts are serial) and
//! let a snapshot be written chunk by chunk, never held in memory whole.
//! Nodes are written depth first, so that a load links each node under a parent it already
//! has; children in their table's order (sorting them cost too much, see `node_map`). Version 3
//! followed each node with its children's names (read and skipped: the paths say the same; its
//! nodes came in hash order and are sorted by path before they are linked). The ephemeral/
//! container/TTL indexes and the quota roots are rebuilt on load. Decoding is hand-written
//! over the byte slice (no per-field parser calls, no allocation per node) because restart time
//! is dominated by it.

use super::node_map::{Loaded, NodeMap, StoreError, View, ViewNode};
use super::{AclList, DataTree, Options};
use bytes::{BufMut, BytesMut};
use zk_codec::records::{Acl, StatPersisted};
use zk_codec::{DecodeError, Jute, Limits};

const VERSION: i32 = 4;
/// Child lists with each node, in the table's order (read; the lists are not needed).
const VERSION_LISTED: i32 = 3;
/// The encoding before compact nodes, still read.
const VERSION_FIXED: i32 = 2;
/// Nodes per chunk: a chunk is encoded into a buffer of a few megabytes, reused.
const CHUNK_NODES: usize = 32 << 10;

/// One parsed node, before it goes into the store (the ACL as the store's number).
type Parsed<'a> = Loaded<'a>;

/// The fewest bytes a node takes in each encoding: a node count beyond the input's length
/// divided by this is corruption, found while parsing, and must not size the map first.
fn min_node_bytes(version: i32) -> usize {
    match version {
        VERSION_FIXED => 80,
        VERSION_LISTED => 22,
        _ => 21,
    }
}

/// Parses `count` nodes from one chunk, handing each to `sink`.
fn parse_chunk<'a>(
    bytes: &'a [u8],
    count: usize,
    version: i32,
    acl_ids: &[u32],
    mut sink: impl FnMut(Parsed<'a>),
) -> Result<(), DecodeError> {
    let mut r = Reader(bytes);
    let fixed = version == VERSION_FIXED;
    for _ in 0..count {
        let path = r.name(fixed)?;
        let data = r.value(fixed)?;
        let acl = *acl_ids
            .get(r.count(fixed, "acl index")?)
            .ok_or(DecodeError::Invalid("acl index"))?;
        let stat = r.stat(fixed)?;
        if version != VERSION {
            // The child lists of older versions: the paths say the same.
            for _ in 0..r.count(fixed, "child count")? {
                r.name(fixed)?;
            }
        }
        sink(Parsed {
            path,
            data,
            acl,
            stat,
        });
    }
    if !r.0.is_empty() {
        return Err(DecodeError::Invalid(
            "chunk length does not match its nodes",
        ));
    }
    Ok(())
}

fn put_var(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8(v as u8 | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn put_var_str(out: &mut BytesMut, s: &str) {
    put_var(out, s.len() as u64);
    out.put_slice(s.as_bytes());
}

type NodeWriter = fn(&mut BytesMut, &str, &ViewNode<'_>);

/// One node in the compact encoding (see the module's table).
fn put_node(out: &mut BytesMut, path: &str, n: &ViewNode<'_>) {
    put_var_str(out, path);
    match n.data {
        None => put_var(out, 0),
        Some(d) => {
            put_var(out, d.len() as u64 + 1);
            out.put_slice(d);
        }
    }
    put_var(out, u64::from(n.acl));
    let st = &n.stat;
    // Bits 0-2: a long equal to the one it is compared with; bits 3-5: an int that is 0.
    let longs = [
        (st.mzxid, st.czxid),
        (st.pzxid, st.czxid),
        (st.mtime, st.ctime),
    ];
    let ints = [st.version, st.cversion, st.aversion];
    let mut flags = u8::from(st.ephemeral_owner == 0) << 6;
    for (bit, (v, given)) in longs.iter().enumerate() {
        flags |= u8::from(v == given) << bit;
    }
    for (bit, v) in ints.iter().enumerate() {
        flags |= u8::from(*v == 0) << (3 + bit);
    }
    out.put_u8(flags);
    out.put_i64(st.czxid);
    out.put_i64(st.ctime);
    for (bit, (v, _)) in longs.iter().enumerate() {
        if flags & (1 << bit) == 0 {
            out.put_i64(*v);
        }
    }
    for (bit, v) in ints.iter().enumerate() {
        if flags & (1 << (3 + bit)) == 0 {
            out.put_i32(*v);
        }
    }
    if flags & (1 << 6) == 0 {
        out.put_i64(st.ephemeral_owner);
    }
}

/// The tree at one log position, sharing the store's records (see [`super::node_map`]): taken
/// under the tree lock, encoded after the lock is released.
pub struct TreeView {
    last_zxid: i64,
    sessions: Vec<(i64, i32)>,
    nodes: View,
}

impl TreeView {
    /// Appends the snapshot encoding.
    pub fn encode(&self, out: &mut BytesMut) {
        // Writing into a BytesMut cannot fail.
        let _ = self.encode_to(&mut out.writer());
    }

    /// Writes the snapshot encoding, chunk by chunk.
    ///
    /// # Errors
    /// Those of `w`.
    pub fn encode_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.encode_chunked(w, CHUNK_NODES, (VERSION, put_node))
    }

    /// `format` is the version written and its node encoder (tests write the older ones).
    fn encode_chunked(
        &self,
        w: &mut dyn std::io::Write,
        per_chunk: usize,
        format: (i32, NodeWriter),
    ) -> std::io::Result<()> {
        let (version, put_node) = format;
        let mut out = BytesMut::with_capacity(64 << 10);
        version.encode(&mut out);
        self.last_zxid.encode(&mut out);
        (self.sessions.len() as i32).encode(&mut out);
        for (id, t) in &self.sessions {
            id.encode(&mut out);
            t.encode(&mut out);
        }
        let acls = self.nodes.acls();
        out.put_i32(acls.len() as i32);
        for a in acls {
            out.put_i32(a.len() as i32);
            for acl in a.iter() {
                acl.encode(&mut out);
            }
        }
        let total = self.nodes.len();
        out.put_i64(total as i64);
        out.put_i32(total.div_ceil(per_chunk) as i32);
        w.write_all(&out)?;
        out.clear();
        let (mut in_chunk, mut written, mut failed) = (0usize, 0usize, None);
        let mut flush = |out: &mut BytesMut, n: usize| -> std::io::Result<()> {
            w.write_all(&(n as i64).to_be_bytes())?;
            w.write_all(&(out.len() as i64).to_be_bytes())?;
            w.write_all(out)?;
            out.clear();
            Ok(())
        };
        self.nodes.walk(|path, n| {
            if failed.is_some() {
                return;
            }
            put_node(&mut out, path, n);
            in_chunk += 1;
            written += 1;
            if in_chunk == per_chunk {
                failed = flush(&mut out, in_chunk).err();
                in_chunk = 0;
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        if in_chunk > 0 {
            flush(&mut out, in_chunk)?;
        }
        // Invariant: the store counts what its walk lists.
        assert_eq!(written, total, "snapshot walk and node count disagree");
        Ok(())
    }
}

impl DataTree {
    /// Takes a [`TreeView`]: the tables' handles copied, 4 bytes a node, so the caller's lock
    /// is short.
    pub fn snapshot_view(&self) -> TreeView {
        let mut sessions: Vec<(i64, i32)> = self.sessions().collect();
        sessions.sort_unstable();
        TreeView {
            last_zxid: self.last_zxid,
            sessions,
            nodes: self.nodes.view(),
        }
    }

    /// Appends the snapshot encoding of the whole tree.
    pub fn encode_snapshot(&self, out: &mut BytesMut) {
        self.snapshot_view().encode(out);
    }

    /// Rebuilds a tree from [`DataTree::encode_snapshot`] output. `_more` (nodes the log
    /// replay will add) is not needed: tables grow per parent.
    ///
    /// # Errors
    /// Malformed input or a node whose parent is missing.
    pub fn decode_snapshot(
        input: &[u8],
        opts: Options,
        _more: usize,
    ) -> Result<DataTree, DecodeError> {
        let lim = Limits {
            max_buffer: usize::MAX / 4,
            extra_size: 0,
        };
        let mut r = Reader(input);
        let version = r.i32()?;
        if !matches!(version, VERSION | VERSION_LISTED | VERSION_FIXED) {
            return Err(DecodeError::Unknown {
                what: "snapshot version",
                value: version,
            });
        }
        let mut t = DataTree::new(opts);
        t.nodes = NodeMap::default();
        t.acls.clear();
        t.data_size = 0;
        t.last_zxid = r.i64()?;
        for _ in 0..r.i32()?.max(0) {
            let id = r.i64()?;
            t.sessions.insert(id, r.i32()?);
        }
        let mut acl_ids: Vec<u32> = Vec::new();
        for _ in 0..r.i32()?.max(0) {
            let list = <Vec<Acl>>::decode_next(&mut r.0, lim)?;
            let a: AclList = t.intern(list);
            acl_ids.push(t.nodes.acl_id(&a));
        }
        let count = usize::try_from(r.i64()?).map_err(|_| DecodeError::Invalid("node count"))?;
        let k = usize::try_from(r.i32()?).map_err(|_| DecodeError::Invalid("chunk count"))?;
        let mut chunks = Vec::with_capacity(k.min(1024));
        let mut total = 0usize;
        for _ in 0..k {
            let n = usize::try_from(r.i64()?).map_err(|_| DecodeError::Invalid("chunk nodes"))?;
            let len = usize::try_from(r.i64()?).map_err(|_| DecodeError::Invalid("chunk bytes"))?;
            chunks.push((r.take(len)?, n));
            total = total.saturating_add(n);
        }
        if total != count {
            return Err(DecodeError::Invalid("chunk counts do not add up"));
        }
        let most = input.len() / min_node_bytes(version);
        let mut parsed: Vec<Parsed<'_>> = Vec::with_capacity(count.min(most));
        // Parsing runs on a thread per chunk when there is a second core to run them on.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores < 2 {
            for (bytes, n) in &chunks {
                parse_chunk(bytes, *n, version, &acl_ids, |p| parsed.push(p))?;
            }
        } else {
            let per_thread = chunks.len().div_ceil(cores).max(1);
            let results: Vec<Result<Vec<Parsed<'_>>, DecodeError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .chunks(per_thread)
                    .map(|group| {
                        let acl_ids = &acl_ids;
                        scope.spawn(move || {
                            let nodes: usize = group
                                .iter()
                                .map(|(b, n)| (*n).min(b.len() / min_node_bytes(version)))
                                .sum();
                            let mut out = Vec::with_capacity(nodes);
                            for (bytes, n) in group {
                                parse_chunk(bytes, *n, version, acl_ids, |p| out.push(p))?;
                            }
                            Ok(out)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or(Err(DecodeError::Invalid("snapshot parser panicked")))
                    })
                    .collect()
            });
            for chunk in results {
                parsed.extend(chunk?);
            }
        }
        if version != VERSION {
            // Older versions list nodes in hash order; a parent's path sorts before its
            // descendants'.
            parsed.sort_unstable_by(|a, b| a.path.cmp(b.path));
        }
        t.nodes.load_all(&parsed).map_err(|(e, _)| match e {
            StoreError::NoParent => DecodeError::Invalid("a node whose parent is missing"),
            StoreError::Exists => DecodeError::Invalid("a path listed twice"),
        })?;
        for p in &parsed {
            t.data_size += (p.path.len() + p.data.map_or(0, <[u8]>::len)) as u64;
            t.index_kind(p.path, p.stat.ephemeral_owner, true);
        }
        if !t.nodes.contains_key("/") {
            return Err(DecodeError::Invalid("snapshot without a root"));
        }
        t.rebuild_quota_roots();
        Ok(t)
    }
}

/// Big-endian reads over the snapshot bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Invalid("snapshot truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        Ok(i64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::try_from(self.i32()?).map_err(|_| DecodeError::Invalid("path length"))?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Invalid("path is not UTF-8"))
    }

    fn data(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    fn var(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint too long"))
    }

    /// A count, length or index: an int in version 2 (`fixed`), a varint since.
    fn count(&mut self, fixed: bool, what: &'static str) -> Result<usize, DecodeError> {
        let n = if fixed {
            usize::try_from(self.i32()?).ok()
        } else {
            usize::try_from(self.var()?).ok()
        };
        n.ok_or(DecodeError::Invalid(what))
    }

    /// A path or child name.
    fn name(&mut self, fixed: bool) -> Result<&'a str, DecodeError> {
        if fixed {
            return self.str();
        }
        let n = self.count(false, "path length")?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Invalid("path is not UTF-8"))
    }

    /// A node's value; null is -1 in version 2, 0 (lengths are stored plus one) since.
    fn value(&mut self, fixed: bool) -> Result<Option<&'a [u8]>, DecodeError> {
        if fixed {
            return self.data();
        }
        match self.count(false, "data length")? {
            0 => Ok(None),
            n => Ok(Some(self.take(n - 1)?)),
        }
    }

    fn stat(&mut self, fixed: bool) -> Result<StatPersisted, DecodeError> {
        if fixed {
            return Ok(StatPersisted {
                czxid: self.i64()?,
                mzxid: self.i64()?,
                ctime: self.i64()?,
                mtime: self.i64()?,
                version: self.i32()?,
                cversion: self.i32()?,
                aversion: self.i32()?,
                ephemeral_owner: self.i64()?,
                pzxid: self.i64()?,
            });
        }
        let flags = self.u8()?;
        let czxid = self.i64()?;
        let ctime = self.i64()?;
        let given = |bit: u8| flags & (1 << bit) != 0;
        Ok(StatPersisted {
            czxid,
            ctime,
            mzxid: if given(0) { czxid } else { self.i64()? },
            pzxid: if given(1) { czxid } else { self.i64()? },
            mtime: if given(2) { ctime } else { self.i64()? },
            version: if given(3) { 0 } else { self.i32()? },
            cversion: if given(4) { 0 } else { self.i32()? },
            aversion: if given(5) { 0 } else { self.i32()? },
            ephemeral_owner: if given(6) { 0 } else { self.i64()? },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Txn, TxnOp};
    use zk_codec::records::*;
    use zk_codec::Request;

    #[test]
    fn snapshot_restores_the_same_tree() {
        let opts = Options {
            extended_types: true,
            ..Default::default()
        };
        let mut t = DataTree::new(opts);
        let s = 0x0100_0000_0000_0001;
        let mut z = 0;
        let mut run = |t: &mut DataTree, session, op| {
            z += 1;
            t.apply(
                &Txn {
                    session,
                    cxid: 1,
                    time_ms: z,
                    auth: vec![],
                    op,
                },
                z,
            )
        };
        run(&mut t, s, TxnOp::CreateSession { timeout_ms: 5000 });
        for (p, f) in [("/a", 0), ("/a/b", 0), ("/a/e", 1), ("/c", 4)] {
            let r = CreateRequest {
                path: p.into(),
                data: Some(bytes::Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                flags: f,
            };
            run(&mut t, s, TxnOp::Request(Request::Create(r)));
        }
        let mut out = BytesMut::new();
        t.encode_snapshot(&mut out);
        let back = DataTree::decode_snapshot(&out, opts, 0).unwrap();
        let mut again = BytesMut::new();
        back.encode_snapshot(&mut again);
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.last_zxid(), t.last_zxid());
        assert_eq!(back.children("/a", &[]), t.children("/a", &[]));
        assert_eq!(back.ephemerals_of(s, None), vec!["/a/e".to_string()]);
        assert_eq!(back.exists("/", &[]), t.exists("/", &[]));
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        assert!(back.has_session(s));
        assert!(DataTree::decode_snapshot(&out[..out.len() - 3], opts, 0).is_err());
        // Many chunks (a large tree's layout) decode to the same tree.
        let mut chunked = Vec::new();
        t.snapshot_view()
            .encode_chunked(&mut chunked, 2, (VERSION, put_node))
            .unwrap();
        let from_chunks = DataTree::decode_snapshot(&chunked, opts, 0).unwrap();
        assert_eq!(from_chunks.nodes.len(), back.nodes.len());
        for (path, node) in back.nodes.iter() {
            assert_eq!(from_chunks.nodes.get(&path), Some(node), "{path}");
        }
        assert_eq!(out.len(), again.len());
    }

    /// Version 2's node encoding, for the test that such snapshots still load.
    fn put_node_fixed(out: &mut BytesMut, path: &str, n: &ViewNode<'_>) {
        path.to_string().encode(out);
        zk_codec::jute::encode_slice(out, n.data);
        out.put_i32(n.acl as i32);
        n.stat.encode(out);
        out.put_i32(n.child_names().len() as i32);
        for c in n.child_names() {
            c.to_string().encode(out);
        }
    }

    /// Version 3's: version 4's and the child names.
    fn put_node_listed(out: &mut BytesMut, path: &str, n: &ViewNode<'_>) {
        put_node(out, path, n);
        put_var(out, n.child_names().len() as u64);
        for c in n.child_names() {
            put_var_str(out, c);
        }
    }

    #[test]
    fn compact_nodes_round_trip_and_version_2_still_loads() {
        let mut t = DataTree::new(Options::default());
        let s = 0x0100_0000_0000_0002;
        let mut z = 0;
        let mut run = |t: &mut DataTree, op| {
            z += 1;
            let txn = Txn {
                session: s,
                cxid: 1,
                time_ms: 1_700_000_000_000 + z,
                auth: vec![],
                op,
            };
            t.apply(&txn, (7 << 32) + z)
        };
        run(&mut t, TxnOp::CreateSession { timeout_ms: 5000 });
        let create = |p: &str, data: Option<&'static [u8]>, flags| {
            TxnOp::Request(Request::Create(CreateRequest {
                path: p.into(),
                data: data.map(bytes::Bytes::from_static),
                acl: Acl::open_unsafe(),
                flags,
            }))
        };
        // Every stat field away from its default somewhere: a written node (mzxid, mtime,
        // version), a parent (pzxid, cversion), an ACL change (aversion), an ephemeral
        // (owner), null and empty data, a long path and a long value.
        run(&mut t, create("/p", None, 0));
        run(&mut t, create("/p/e", Some(b""), 1));
        let long = format!("/{}", "x".repeat(300));
        run(&mut t, create(&long, Some(&[7u8; 200]), 0));
        run(
            &mut t,
            TxnOp::Request(Request::SetData(SetDataRequest {
                path: "/p".into(),
                data: Some(bytes::Bytes::from_static(b"v2")),
                version: -1,
            })),
        );
        run(
            &mut t,
            TxnOp::Request(Request::SetAcl(SetAclRequest {
                path: "/p/e".into(),
                acl: Acl::open_unsafe(),
                version: -1,
            })),
        );
        let view = t.snapshot_view();
        let mut loaded = Vec::new();
        for format in [
            (VERSION, put_node as NodeWriter),
            (VERSION_LISTED, put_node_listed),
            (VERSION_FIXED, put_node_fixed),
        ] {
            let mut bytes = Vec::new();
            view.encode_chunked(&mut bytes, 2, format).unwrap();
            let back = DataTree::decode_snapshot(&bytes, Options::default(), 0).unwrap();
            assert_eq!(back.nodes.len(), t.nodes.len(), "version {}", format.0);
            for (path, node) in t.nodes.iter() {
                let got = back.nodes.get(&path).unwrap();
                assert_eq!(got, node, "{path}, version {}", format.0);
            }
            assert_eq!(back.ephemerals_of(s, None), vec!["/p/e".to_string()]);
            // Cut anywhere, the input is refused, never accepted as a smaller tree.
            for cut in (1..bytes.len()).step_by(7) {
                assert!(DataTree::decode_snapshot(&bytes[..cut], Options::default(), 0).is_err());
            }
            loaded.push(back);
        }
        for (path, node) in loaded[0].nodes.iter() {
            assert_eq!(loaded[1].nodes.get(&path), Some(node.clone()), "{path}");
            assert_eq!(loaded[2].nodes.get(&path), Some(node), "{path}");
        }
        let node = t.node("/p").unwrap();
        assert!(node.stat.version == 1 && node.stat.cversion == 1);
        assert!(t.node("/p/e").unwrap().stat.aversion == 1);
    }
}
