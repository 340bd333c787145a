//! The tree's snapshot encoding (the state machine part of a Raft snapshot), in jute
//! primitives: exactly the state at one log position, restored bit-for-bit.
//!
//! | field          | encoding                                                        |
//! |----------------|-----------------------------------------------------------------|
//! | version        | int 2                                                           |
//! | last_zxid      | long                                                            |
//! | sessions       | int n, then n × {long id, int timeout}                          |
//! | acls           | int k, then k × vector<ACL> (each distinct ACL list once)       |
//! | nodes          | long n, int k, then k chunks of {long count, long bytes, count × node} |
//! | node           | ustring path, buffer data, int acl index, StatPersisted, int c, c × ustring child name (sorted) |
//!
//! The chunks let a load parse nodes on several threads (only the map inserts are serial) and
//! let a snapshot be written chunk by chunk, never held in memory whole.
//! Children are stored with their parent, already sorted, so a load builds each children set
//! in one pass without looking parents up. The ephemeral/container/TTL indexes and the quota
//! roots are rebuilt on load. Decoding is hand-written over the byte slice (no per-field parser calls, one
//! allocation per path and per data buffer) because restart time is dominated by it.

use super::hash_order::CHILDREN_INITIAL_LOG2;
use super::node_map::{Entry, View};
use super::{prefetch, ChildSet, DataTree, Node, Options};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::Arc;
use zk_codec::records::{Acl, StatPersisted};
use zk_codec::{DecodeError, Jute, Limits};

const VERSION: i32 = 2;
/// Nodes per chunk: a chunk is encoded into a buffer of a few megabytes, reused.
const CHUNK_NODES: usize = 32 << 10;

/// One parsed node, before it goes into the map.
type Parsed = Arc<Entry>;

/// Parses `count` nodes from one chunk, handing each to `sink`.
fn parse_chunk(
    bytes: &[u8],
    count: usize,
    table: &[Arc<[Acl]>],
    mut sink: impl FnMut(Parsed),
) -> Result<(), DecodeError> {
    let mut r = Reader(bytes);
    for _ in 0..count {
        let path = r.str()?;
        let data = r.data()?;
        let acl = table
            .get(usize::try_from(r.i32()?).map_err(|_| DecodeError::Invalid("acl index"))?)
            .ok_or(DecodeError::Invalid("acl index"))?
            .clone();
        let stat = StatPersisted {
            czxid: r.i64()?,
            mzxid: r.i64()?,
            ctime: r.i64()?,
            mtime: r.i64()?,
            version: r.i32()?,
            cversion: r.i32()?,
            aversion: r.i32()?,
            ephemeral_owner: r.i64()?,
            pzxid: r.i64()?,
        };
        let n_children =
            usize::try_from(r.i32()?).map_err(|_| DecodeError::Invalid("child count"))?;
        let mut names: Vec<&str> = Vec::with_capacity(n_children.min(r.0.len() / 4));
        for _ in 0..n_children {
            names.push(r.str()?);
        }
        // Re-inserted by name: ZooKeeper re-inserts in its old listing order instead (see
        // `hash_order`).
        let children = ChildSet::from_sorted_inserts(names, CHILDREN_INITIAL_LOG2)
            .map_err(|_| DecodeError::Invalid("children out of order"))?;
        sink(Arc::new(Entry::new(
            path,
            Node {
                data,
                acl,
                stat,
                children,
            },
        )));
    }
    if !r.0.is_empty() {
        return Err(DecodeError::Invalid(
            "chunk length does not match its nodes",
        ));
    }
    Ok(())
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_i32(s.len() as i32);
    out.put_slice(s.as_bytes());
}

/// The tree at one log position, shared with the live tree (see [`super::node_map`]): taken
/// under the tree lock in one pass, encoded after the lock is released.
pub struct TreeView {
    last_zxid: i64,
    sessions: Vec<(i64, i32)>,
    acls: Vec<Arc<[Acl]>>,
    nodes: View,
}

impl TreeView {
    /// Asks for the memory the encoder reads a few nodes after the `i`th: the path and the node
    /// two steps out, then the value (whose address is in the node) one step out.
    fn prefetch_for(&self, i: usize) {
        if let Some(e) = self.nodes.get(i + 2 * prefetch::AHEAD) {
            prefetch::lines(Arc::as_ptr(e), std::mem::size_of::<Entry>().div_ceil(64));
        }
        if let Some(e) = self.nodes.get(i + prefetch::AHEAD) {
            prefetch::lines(e.path().as_ptr(), 1);
        }
        if let Some(data) = self
            .nodes
            .get(i + prefetch::AHEAD)
            .and_then(|e| e.node.data.as_ref())
        {
            prefetch::lines(data.as_ptr(), data.len().min(256).div_ceil(64));
        }
    }

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
        self.encode_chunked(w, CHUNK_NODES)
    }

    fn encode_chunked(&self, w: &mut dyn std::io::Write, per_chunk: usize) -> std::io::Result<()> {
        let mut out = BytesMut::with_capacity(64 << 10);
        VERSION.encode(&mut out);
        self.last_zxid.encode(&mut out);
        (self.sessions.len() as i32).encode(&mut out);
        for (id, t) in &self.sessions {
            id.encode(&mut out);
            t.encode(&mut out);
        }
        // Nodes hold interned ACL lists, so the Arc's address identifies the list.
        let mut index: HashMap<usize, i32> = HashMap::with_capacity(self.acls.len());
        out.put_i32(self.acls.len() as i32);
        for (i, a) in self.acls.iter().enumerate() {
            index.insert(Arc::as_ptr(a) as *const Acl as usize, i as i32);
            out.put_i32(a.len() as i32);
            for acl in a.iter() {
                acl.encode(&mut out);
            }
        }
        out.put_i64(self.nodes.len() as i64);
        out.put_i32(self.nodes.len().div_ceil(per_chunk) as i32);
        w.write_all(&out)?;
        // Most nodes share a handful of ACL lists, often one, so the last lookup is kept.
        let mut last_acl = (0usize, -1i32);
        for (c, chunk) in self.nodes.chunks(per_chunk).enumerate() {
            out.clear();
            for (j, e) in chunk.iter().enumerate() {
                self.prefetch_for(c * per_chunk + j);
                let n = &e.node;
                put_str(&mut out, e.path());
                n.data.encode(&mut out);
                let key = Arc::as_ptr(&n.acl) as *const Acl as usize;
                if key != last_acl.0 {
                    // Invariant: every node's ACL came from `intern`, so it is in the table.
                    last_acl = (key, index.get(&key).copied().unwrap_or(-1));
                }
                out.put_i32(last_acl.1);
                n.stat.encode(&mut out);
                out.put_i32(n.children.len() as i32);
                for c in n.children.iter() {
                    put_str(&mut out, c);
                }
            }
            w.write_all(&(chunk.len() as i64).to_be_bytes())?;
            w.write_all(&(out.len() as i64).to_be_bytes())?;
            w.write_all(&out)?;
        }
        Ok(())
    }
}

impl DataTree {
    /// Takes a [`TreeView`]: reference-count increments only, so the caller's lock is short.
    pub fn snapshot_view(&self) -> TreeView {
        let mut sessions: Vec<(i64, i32)> = self.sessions().collect();
        sessions.sort_unstable();
        TreeView {
            last_zxid: self.last_zxid,
            sessions,
            acls: self.acls.iter().cloned().collect(),
            nodes: self.nodes.view(),
        }
    }

    /// Appends the snapshot encoding of the whole tree.
    pub fn encode_snapshot(&self, out: &mut BytesMut) {
        self.snapshot_view().encode(out);
    }

    /// Rebuilds a tree from [`DataTree::encode_snapshot`] output, with room for `more` nodes
    /// (the log replay that follows would otherwise grow the map, rehashing every path).
    ///
    /// # Errors
    /// Malformed input or a node whose parent is missing.
    pub fn decode_snapshot(
        input: &[u8],
        opts: Options,
        more: usize,
    ) -> Result<DataTree, DecodeError> {
        let lim = Limits {
            max_buffer: usize::MAX / 4,
            extra_size: 0,
        };
        let mut r = Reader(input);
        let version = r.i32()?;
        if version != VERSION {
            return Err(DecodeError::Unknown {
                what: "snapshot version",
                value: version,
            });
        }
        let mut t = DataTree::new(opts);
        t.nodes.clear();
        t.acls.clear();
        t.data_size = 0;
        t.last_zxid = r.i64()?;
        for _ in 0..r.i32()?.max(0) {
            let id = r.i64()?;
            t.sessions.insert(id, r.i32()?);
        }
        let mut table: Vec<Arc<[Acl]>> = Vec::new();
        for _ in 0..r.i32()?.max(0) {
            let list = <Vec<Acl>>::decode_next(&mut r.0, lim)?;
            let a = t.intern(list);
            table.push(a);
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
        // A node takes at least 80 bytes (lengths, ACL index, stat): a count beyond that is
        // corruption, found while parsing, and must not size the map first.
        t.nodes
            .reserve(count.min(input.len() / 80).saturating_add(more));
        let mut linked = 0usize;
        let hasher = t.nodes.hasher().clone();
        let mut parsed = Vec::with_capacity(count.min(input.len() / 80));
        let mut add = |e: Parsed| {
            let (path, node) = (e.path(), &e.node);
            linked += node.children.len();
            t.data_size += (path.len() + node.data.as_ref().map_or(0, Bytes::len)) as u64;
            t.index_kind(path, node.stat.ephemeral_owner, true);
            parsed.push((hasher.hash_one(path), e));
        };
        // Parsing runs on a thread per chunk when there is a second core to run them on.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores < 2 {
            for (bytes, n) in &chunks {
                parse_chunk(bytes, *n, &table, &mut add)?;
            }
        } else {
            let per_thread = chunks.len().div_ceil(cores).max(1);
            let results: Vec<Result<Vec<Parsed>, DecodeError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .chunks(per_thread)
                    .map(|group| {
                        let table = &table;
                        scope.spawn(move || {
                            let nodes: usize =
                                group.iter().map(|(b, n)| (*n).min(b.len() / 80)).sum();
                            let mut out = Vec::with_capacity(nodes);
                            for (bytes, n) in group {
                                parse_chunk(bytes, *n, table, |p| out.push(p))?;
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
                chunk?.into_iter().for_each(&mut add);
            }
        }
        t.nodes
            .insert_bulk(parsed)
            .map_err(|_| DecodeError::Invalid("a path listed twice"))?;
        // Every node but the root is some node's child, exactly once.
        if linked + 1 != t.nodes.len() {
            return Err(DecodeError::Invalid(
                "children lists do not match the nodes",
            ));
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

    fn data(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(n as usize)?)))
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
        t.snapshot_view().encode_chunked(&mut chunked, 2).unwrap();
        let from_chunks = DataTree::decode_snapshot(&chunked, opts, 0).unwrap();
        assert_eq!(from_chunks.nodes.len(), back.nodes.len());
        for (path, node) in back.nodes.iter() {
            assert_eq!(from_chunks.nodes.get(path), Some(node), "{path}");
        }
    }
}
