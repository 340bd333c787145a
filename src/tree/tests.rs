use super::*;
use crate::txn::{Txn, TxnOp};
use zk_codec::records::*;
use zk_codec::{EventType, MultiOp, MultiRequest, OpResult, Request, Response};

const S: i64 = 0x0100_0000_0000_0001;

struct T {
    tree: DataTree,
    zxid: i64,
}

impl T {
    fn new() -> T {
        let mut t = T {
            tree: DataTree::new(Options {
                extended_types: true,
                ..Default::default()
            }),
            zxid: 0,
        };
        t.run(S, TxnOp::CreateSession { timeout_ms: 30000 });
        t
    }

    fn run(&mut self, session: i64, op: TxnOp) -> Applied {
        self.zxid += 1;
        let txn = Txn {
            session,
            cxid: 1,
            time_ms: 1000 + self.zxid,
            auth: vec![Id::new("ip", "127.0.0.1")],
            op,
        };
        self.tree.apply(&txn, self.zxid)
    }

    fn req(&mut self, r: Request) -> Applied {
        self.run(S, TxnOp::Request(r))
    }

    fn create(&mut self, path: &str, flags: i32) -> Applied {
        self.req(Request::Create(create_req(path, flags)))
    }
}

fn create_req(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(bytes::Bytes::from_static(b"x")),
        acl: Acl::open_unsafe(),
        flags,
    }
}

#[test]
fn fresh_tree_matches_zookeeper_stats() {
    let t = DataTree::new(Options::default());
    let (_, root) = t.get_data("/", &[]).unwrap();
    assert_eq!(root.cversion, -1);
    assert_eq!(root.num_children, 1);
    let zk = t.exists("/zookeeper", &[]).unwrap();
    assert_eq!(zk.cversion, -2);
    assert_eq!(
        t.get_data("", &[]).unwrap().1,
        root,
        "\"\" addresses the root"
    );
    assert_eq!(t.get_data("noslash", &[]), Err(ErrorCode::NoNode));
    assert_eq!(t.node_count(), 5);
}

#[test]
fn sequential_names_use_the_persisted_cversion_and_never_reuse() {
    let mut t = T::new();
    t.create("/a", 0);
    t.create("/a/x", 0);
    t.req(Request::Delete(DeleteRequest {
        path: "/a/x".into(),
        version: -1,
    }));
    let a = t.create("/a/s-", 2);
    assert_eq!(
        a.response,
        Response::Create(CreateResponse {
            path: "/a/s-0000000001".into()
        })
    );
    let b = t.create("/a/", 2);
    assert_eq!(
        b.response,
        Response::Create(CreateResponse {
            path: "/a/0000000002".into()
        })
    );
    // 3 creations, 1 delete: the client view is 2*3 - 2 = 4.
    assert_eq!(t.tree.exists("/a", &[]).unwrap().cversion, 4);
}

#[test]
fn error_precedence_follows_zookeeper() {
    let mut t = T::new();
    assert_eq!(t.create("/missing/child", 0).err, ErrorCode::NoNode);
    assert_eq!(t.create("noslash", 0).err, ErrorCode::BadArguments);
    assert_eq!(t.create("/a", 7).err, ErrorCode::BadArguments);
    assert_eq!(t.create("/t1", 0).err, ErrorCode::Ok);
    assert_eq!(t.create("/t1/a/../b", 0).err, ErrorCode::NoNode);
    assert_eq!(t.create("/t1/", 0).err, ErrorCode::BadArguments);
    assert_eq!(t.create("/t1", 0).err, ErrorCode::NodeExists);
    let mut bad_acl = create_req("/t2", 0);
    bad_acl.acl = vec![];
    assert_eq!(t.req(Request::Create(bad_acl)).err, ErrorCode::InvalidAcl);
    // A parent without CREATE: NoAuth wins over NodeExists.
    let locked = CreateRequest {
        acl: Acl::read_unsafe(),
        ..create_req("/locked", 0)
    };
    t.req(Request::Create(locked));
    assert_eq!(t.create("/locked/c", 0).err, ErrorCode::NoAuth);
    // Delete: version is checked before children.
    t.create("/t1/c", 0);
    let del = |v| {
        Request::Delete(DeleteRequest {
            path: "/t1".into(),
            version: v,
        })
    };
    assert_eq!(t.req(del(5)).err, ErrorCode::BadVersion);
    assert_eq!(t.req(del(-1)).err, ErrorCode::NotEmpty);
    assert_eq!(
        t.req(Request::Delete(DeleteRequest {
            path: "/zookeeper".into(),
            version: -1
        }))
        .err,
        ErrorCode::BadArguments
    );
}

#[test]
fn ephemerals_cannot_have_children_and_go_with_their_session() {
    let mut t = T::new();
    assert_eq!(t.create("/e", 1).err, ErrorCode::Ok);
    assert_eq!(t.create("/e/c", 0).err, ErrorCode::NoChildrenForEphemerals);
    assert_eq!(t.tree.exists("/e", &[]).unwrap().ephemeral_owner, S);
    assert_eq!(t.tree.ephemerals_of(S, None), vec!["/e".to_string()]);
    let closed = t.run(S, TxnOp::CloseSession);
    let kinds: Vec<_> = closed
        .events
        .iter()
        .map(|e| (e.kind, e.path.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::NodeDeleted, "/e"),
            (EventType::NodeChildrenChanged, "/")
        ]
    );
    assert_eq!(t.tree.exists("/e", &[]), Err(ErrorCode::NoNode));
    assert_eq!(t.create("/after", 1).err, ErrorCode::SessionExpired);
}

#[test]
fn failed_multi_rolls_back_and_reports_each_position() {
    let mut t = T::new();
    let before = t.tree.exists("/", &[]).unwrap();
    let ops = vec![
        MultiOp::Create(create_req("/m", 0)),
        MultiOp::Create(create_req("/m/a", 0)),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 3,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/m/a".into(),
            version: -1,
        }),
    ];
    let r = t.req(Request::Multi(MultiRequest { ops }));
    assert_eq!(r.err, ErrorCode::Ok);
    assert!(r.events.is_empty());
    let Response::Multi(m) = r.response else {
        panic!("{r:?}")
    };
    assert_eq!(
        m.results,
        vec![
            OpResult::Error(0),
            OpResult::Error(0),
            OpResult::Error(-103),
            OpResult::Error(-2)
        ]
    );
    assert_eq!(t.tree.exists("/m", &[]), Err(ErrorCode::NoNode));
    let after = t.tree.exists("/", &[]).unwrap();
    assert_eq!(
        (after.cversion, after.pzxid),
        (before.cversion, before.pzxid)
    );
}

#[test]
fn successful_multi_shares_one_zxid_and_sees_earlier_ops() {
    let mut t = T::new();
    let ops = vec![
        MultiOp::Create2(create_req("/m", 0)),
        MultiOp::Create(create_req("/m/s-", 2)),
        MultiOp::CreateContainer(CreateRequest {
            flags: 4,
            ..create_req("/c", 4)
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: 0,
        }),
    ];
    let r = t.req(Request::Multi(MultiRequest { ops }));
    let Response::Multi(m) = r.response else {
        panic!()
    };
    assert_eq!(
        m.results[0],
        OpResult::Create(CreateResponse { path: "/m".into() }),
        "create2 answers as create in 3.8"
    );
    assert_eq!(
        m.results[1],
        OpResult::Create(CreateResponse {
            path: "/m/s-0000000000".into()
        })
    );
    assert!(matches!(&m.results[2], OpResult::Create2(c) if c.path == "/c"));
    let stat = t.tree.exists("/m", &[]).unwrap();
    assert_eq!((stat.czxid, stat.mzxid, stat.version), (t.zxid, t.zxid, 1));
    assert_eq!(
        t.tree.get_data("/m", &[]).unwrap().0,
        None,
        "null data stays null"
    );
}

#[test]
fn ttl_rules() {
    let mut t = T::new();
    let ttl = |flags, ttl| {
        Request::CreateTtl(CreateTtlRequest {
            path: "/ttl".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        })
    };
    assert_eq!(t.req(ttl(0, 100)).err, ErrorCode::BadArguments);
    assert_eq!(t.req(ttl(5, 0)).err, ErrorCode::BadArguments);
    assert_eq!(t.req(ttl(5, MAX_TTL + 1)).err, ErrorCode::BadArguments);
    assert_eq!(
        t.req(Request::Create2(create_req("/x", 5))).err,
        ErrorCode::BadArguments
    );
    assert_eq!(t.req(ttl(5, 100)).err, ErrorCode::Ok);
    assert_eq!(t.tree.exists("/ttl", &[]).unwrap().ephemeral_owner, 0);
    let mtime = t.tree.exists("/ttl", &[]).unwrap().mtime;
    assert!(t.tree.reapable(mtime + 100, 10).is_empty());
    assert_eq!(t.tree.reapable(mtime + 101, 10), vec!["/ttl".to_string()]);

    let mut off = T {
        tree: DataTree::new(Options::default()),
        zxid: 0,
    };
    off.run(S, TxnOp::CreateSession { timeout_ms: 1 });
    assert_eq!(off.req(ttl(5, 100)).err, ErrorCode::Unimplemented);
}

#[test]
fn containers_come_from_the_opcode_and_are_reaped_once_used() {
    let mut t = T::new();
    t.req(Request::CreateContainer(create_req("/c", 0)));
    t.req(Request::Create(create_req("/p", 4)));
    assert_eq!(
        t.tree
            .kind_of(t.tree.node("/c").unwrap().stat.ephemeral_owner),
        Kind::Container
    );
    assert_eq!(
        t.tree
            .kind_of(t.tree.node("/p").unwrap().stat.ephemeral_owner),
        Kind::Persistent
    );
    assert!(
        t.tree.reapable(0, 10).is_empty(),
        "never-used containers stay"
    );
    t.create("/c/child", 0);
    t.req(Request::Delete(DeleteRequest {
        path: "/c/child".into(),
        version: -1,
    }));
    assert_eq!(t.tree.reapable(0, 10), vec!["/c".to_string()]);
    let r = t.run(
        0,
        TxnOp::Request(Request::DeleteContainer(DeleteContainerRequest {
            path: "/c".into(),
        })),
    );
    assert_eq!(r.err, ErrorCode::Ok);
}

#[test]
fn acl_checks_on_reads_and_writes() {
    let mut t = T::new();
    let digest = Id::new("digest", digest_id("u:p"));
    let req = CreateRequest {
        acl: vec![Acl {
            perms: perms::ALL,
            id: digest.clone(),
        }],
        ..create_req("/s", 0)
    };
    t.req(Request::Create(req));
    let anon = [Id::new("ip", "127.0.0.1")];
    assert_eq!(t.tree.get_data("/s", &anon), Err(ErrorCode::NoAuth));
    assert!(t.tree.get_data("/s", std::slice::from_ref(&digest)).is_ok());
    assert!(
        t.tree.exists("/s", &anon).is_ok(),
        "3.8: exists checks no ACL"
    );
    assert_eq!(t.tree.exists("/nope", &anon), Err(ErrorCode::NoNode));
    let set = Request::SetData(SetDataRequest {
        path: "/s".into(),
        data: None,
        version: -1,
    });
    assert_eq!(t.req(set).err, ErrorCode::NoAuth);
    assert_eq!(t.tree.get_acl("/s", &anon), Err(ErrorCode::NoAuth));
}

#[test]
fn set_acl_uses_aversion_and_fires_nothing() {
    let mut t = T::new();
    t.create("/a", 0);
    let set = |v| {
        Request::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: v,
        })
    };
    assert_eq!(t.req(set(1)).err, ErrorCode::BadVersion);
    let r = t.req(set(0));
    assert!(r.events.is_empty());
    let Response::Stat(s) = r.response else {
        panic!()
    };
    assert_eq!((s.stat.aversion, s.stat.version), (1, 0));
}

#[test]
fn events_come_data_first_then_parent() {
    let mut t = T::new();
    let r = t.create("/a", 0);
    let kinds: Vec<_> = r.events.iter().map(|e| (e.kind, e.path.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::NodeCreated, "/a"),
            (EventType::NodeChildrenChanged, "/")
        ]
    );
    let r = t.req(Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: None,
        version: 0,
    }));
    assert_eq!(r.events[0].kind, EventType::NodeDataChanged);
    assert!(t
        .req(Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: None,
            version: 0
        }))
        .events
        .is_empty());
}

#[test]
fn all_children_number_counts_descendants() {
    let mut t = T::new();
    t.create("/a", 0);
    t.create("/a/b", 0);
    t.create("/a/b/c", 0);
    assert_eq!(t.tree.all_children_number("/a", &[]), Ok(2));
    assert_eq!(t.tree.all_children_number("/", &[]), Ok(6));
}

#[test]
fn quota_stats_follow_creates_deletes_and_sets() {
    let mut t = T::new();
    let mk = |path: &str, data: &[u8]| {
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(bytes::Bytes::copy_from_slice(data)),
            acl: Acl::open_unsafe(),
            flags: 0,
        })
    };
    let del = |path: &str| {
        Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        })
    };
    t.req(mk("/q", b"abc"));
    t.req(mk("/zookeeper/quota/q", b""));
    t.req(mk(
        "/zookeeper/quota/q/zookeeper_limits",
        b"count=10,bytes=-1",
    ));
    t.req(mk("/zookeeper/quota/q/zookeeper_stats", b"count=0,bytes=0"));
    let stats = |t: &DataTree| {
        let d = t
            .node("/zookeeper/quota/q/zookeeper_stats")
            .unwrap()
            .data
            .unwrap();
        String::from_utf8(d.to_vec()).unwrap()
    };
    assert_eq!(stats(&t.tree), "count=1,bytes=3");
    t.req(mk("/q/a", b"12345"));
    assert_eq!(stats(&t.tree), "count=2,bytes=8");
    t.req(Request::SetData(SetDataRequest {
        path: "/q/a".into(),
        data: Some(bytes::Bytes::from_static(b"1")),
        version: -1,
    }));
    assert_eq!(stats(&t.tree), "count=2,bytes=4");
    let ops = vec![
        MultiOp::Create(create_req("/q/b", 0)),
        MultiOp::Delete(DeleteRequest {
            path: "/nope".into(),
            version: -1,
        }),
    ];
    t.req(Request::Multi(MultiRequest { ops }));
    assert_eq!(
        stats(&t.tree),
        "count=2,bytes=4",
        "a failed multi leaves the figures"
    );
    t.req(del("/q/a"));
    assert_eq!(stats(&t.tree), "count=1,bytes=3");
    let mut out = bytes::BytesMut::new();
    t.tree.encode_snapshot(&mut out);
    let mut back = T {
        tree: DataTree::decode_snapshot(&out, t.tree.options(), 0).unwrap(),
        zxid: t.zxid,
    };
    back.req(mk("/q/c", b"z"));
    assert_eq!(
        stats(&back.tree),
        "count=2,bytes=4",
        "snapshots keep the quota roots"
    );
    t.req(del("/zookeeper/quota/q/zookeeper_limits"));
    t.req(mk("/q/d", b"zz"));
    assert_eq!(
        stats(&t.tree),
        "count=1,bytes=3",
        "no limits node, no accounting"
    );
}
