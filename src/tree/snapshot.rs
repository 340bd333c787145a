//! The tree's snapshot encoding (the state machine part of a Raft snapshot), in jute
//! primitives: exactly the state at one log position, restored bit-for-bit.
//!
//! | field          | encoding                                                        |
//! |----------------|-----------------------------------------------------------------|
//! | version        | int 1                                                           |
//! | last_zxid      | long                                                            |
//! | sessions       | int n, then n × {long id, int timeout}                          |
//! | nodes          | long n, then n × {ustring path, buffer data, vector<ACL>, StatPersisted} |
//!
//! Children lists and the ephemeral/container/TTL indexes are rebuilt on load.

use super::{path, DataTree, Node, Options};
use bytes::{BufMut, BytesMut};
use std::collections::BTreeSet;
use zk_codec::records::{Acl, StatPersisted};
use zk_codec::{DecodeError, Jute, Limits};

const VERSION: i32 = 1;

impl DataTree {
    /// Appends the snapshot encoding of the whole tree.
    pub fn encode_snapshot(&self, out: &mut BytesMut) {
        VERSION.encode(out);
        self.last_zxid.encode(out);
        let mut sessions: Vec<(i64, i32)> = self.sessions().collect();
        sessions.sort_unstable();
        (sessions.len() as i32).encode(out);
        for (id, t) in sessions {
            id.encode(out);
            t.encode(out);
        }
        out.put_i64(self.nodes.len() as i64);
        for (p, n) in &self.nodes {
            p.to_string().encode(out);
            n.data.encode(out);
            n.acl.to_vec().encode(out);
            n.stat.encode(out);
        }
    }

    /// Rebuilds a tree from [`DataTree::encode_snapshot`] output.
    ///
    /// # Errors
    /// Malformed input or a node whose parent is missing.
    pub fn decode_snapshot(mut input: &[u8], opts: Options) -> Result<DataTree, DecodeError> {
        let lim = Limits {
            max_buffer: usize::MAX / 4,
            extra_size: 0,
        };
        let input = &mut input;
        let version = i32::decode_next(input, lim)?;
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
        t.last_zxid = i64::decode_next(input, lim)?;
        for _ in 0..i32::decode_next(input, lim)?.max(0) {
            let id = i64::decode_next(input, lim)?;
            t.sessions.insert(id, i32::decode_next(input, lim)?);
        }
        for _ in 0..i64::decode_next(input, lim)?.max(0) {
            let p = String::decode_next(input, lim)?;
            let data = <Option<bytes::Bytes>>::decode_next(input, lim)?;
            let acl = <Vec<Acl>>::decode_next(input, lim)?;
            let stat = StatPersisted::decode_next(input, lim)?;
            t.data_size += (p.len() + data.as_ref().map_or(0, |d| d.len())) as u64;
            let acl = t.intern(acl);
            t.index_kind(&p, stat.ephemeral_owner, true);
            t.nodes.insert(
                p.into(),
                Node {
                    data,
                    acl,
                    stat,
                    children: BTreeSet::new(),
                },
            );
        }
        let paths: Vec<String> = t
            .nodes
            .keys()
            .filter(|p| &***p != "/")
            .map(|p| p.to_string())
            .collect();
        for p in paths {
            let (parent, name) =
                path::split(&p).ok_or(DecodeError::Invalid("path without a slash"))?;
            let parent = t
                .nodes
                .get_mut(parent)
                .ok_or(DecodeError::Invalid("node without parent"))?;
            parent.children.insert(name.into());
        }
        if !t.nodes.contains_key("/") {
            return Err(DecodeError::Invalid("snapshot without a root"));
        }
        t.rebuild_quota_roots();
        Ok(t)
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
        let back = DataTree::decode_snapshot(&out, opts).unwrap();
        let mut again = BytesMut::new();
        back.encode_snapshot(&mut again);
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.last_zxid(), t.last_zxid());
        assert_eq!(back.children("/a", &[]), t.children("/a", &[]));
        assert_eq!(back.ephemerals_of(s, None), vec!["/a/e".to_string()]);
        assert_eq!(back.exists("/", &[]), t.exists("/", &[]));
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        assert!(back.has_session(s));
        assert!(DataTree::decode_snapshot(&out[..out.len() - 3], opts).is_err());
    }
}
