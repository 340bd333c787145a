use crate::harness::*;
use bytes::Bytes;
use zk_codec::records::*;
use zk_codec::{MultiOp, MultiRequest, OpResult, Request, Response};

fn s_with_types() -> Server {
    Server::start("extendedTypesEnabled=true\nDigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
}

#[test]
fn create_variants_and_their_stats() {
    let s = s_with_types();
    let mut c = Client::connect(s.addr);
    let (h, r) = c.create("/a", b"data", 0);
    let Response::Create2(r) = r else { panic!() };
    assert_eq!(
        (r.path.as_str(), r.stat.czxid, r.stat.mzxid, r.stat.pzxid),
        ("/a", h.zxid, h.zxid, h.zxid)
    );
    assert_eq!(
        (
            r.stat.version,
            r.stat.cversion,
            r.stat.data_length,
            r.stat.ephemeral_owner
        ),
        (0, 0, 4, 0)
    );
    let (_, r) = c.call(Request::Create(create_req("/a/s-", b"", 2)));
    assert_eq!(
        r,
        Response::Create(CreateResponse {
            path: "/a/s-0000000000".into()
        })
    );
    let (_, r) = c.create("/a/e-", b"", 3);
    let Response::Create2(e) = r else { panic!() };
    assert_eq!(
        (e.path.as_str(), e.stat.ephemeral_owner),
        ("/a/e-0000000001", c.session)
    );
    assert_eq!(
        c.err(Request::CreateContainer(create_req("/cont", b"", 4))),
        0
    );
    assert_eq!(c.stat("/cont").ephemeral_owner, 0);
    let ttl = CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 60000,
    };
    assert_eq!(c.err(Request::CreateTtl(ttl)), 0);
    assert_eq!(c.create("/a", b"", 0).0.err, -110);
    assert_eq!(c.create("/nope/x", b"", 0).0.err, -101);
    assert_eq!(c.create("/a/e-0000000001/x", b"", 0).0.err, -108);
    assert_eq!(c.create("/bad/", b"", 0).0.err, -101);
    assert_eq!(c.create("/a/", b"", 0).0.err, -8);
    assert_eq!(c.stat("/a").cversion, 2);
}

#[test]
fn null_data_stays_null_and_get_of_root_by_empty_path() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.call(Request::Create(CreateRequest {
        path: "/n".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    }));
    let (_, r) = c.get("/n", false);
    assert!(matches!(
        r,
        Response::GetData(GetDataResponse { data: None, .. })
    ));
    assert_eq!(c.get("", false).0.err, 0);
    assert_eq!(c.get("noslash", false).0.err, -101);
}

#[test]
fn ttl_needs_extended_types() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let ttl = CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 100,
    };
    assert_eq!(c.err(Request::CreateTtl(ttl)), -6);
}

#[test]
fn versions_on_set_delete_and_setacl() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/v", b"1", 0);
    assert_eq!(c.set("/v", b"2", 5).0.err, -103);
    let (_, r) = c.set("/v", b"2", 0);
    let Response::Stat(st) = r else { panic!() };
    assert_eq!(st.stat.version, 1);
    let acl = |v| {
        Request::SetAcl(SetAclRequest {
            path: "/v".into(),
            acl: Acl::open_unsafe(),
            version: v,
        })
    };
    assert_eq!(c.err(acl(1)), -103);
    assert_eq!(c.err(acl(0)), 0);
    assert_eq!(c.stat("/v").aversion, 1);
    assert_eq!(c.delete("/v", 0), -103);
    assert_eq!(c.delete("/v", 1), 0);
    assert_eq!(c.delete("/v", -1), -101);
    assert_eq!(c.delete("/zookeeper", -1), -8);
}

#[test]
fn failed_writes_consume_a_zxid_reads_do_not() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let (h1, _) = c.create("/z", b"", 0);
    let (h2, _) = c.create("/z", b"", 0);
    assert_eq!((h2.err, h2.zxid), (-110, h1.zxid + 1));
    let (h3, _) = c.get("/z", false);
    assert_eq!(h3.zxid, h2.zxid);
    let (h4, _) = c.create("/z2", b"", 0);
    assert_eq!(h4.zxid, h2.zxid + 1);
}

#[test]
fn children_acl_sync_counts_and_whoami() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/p", b"", 0);
    c.create("/p/b", b"", 0);
    c.create("/p/a", b"", 1);
    c.create("/p/b/c", b"", 0);
    assert_eq!(c.children("/p", false), vec!["a", "b"]);
    let (_, r) = c.call(Request::GetChildren2(PathWatchRequest {
        path: "/p".into(),
        watch: false,
    }));
    let Response::GetChildren2(r) = r else {
        panic!()
    };
    assert_eq!((r.stat.num_children, r.stat.cversion), (2, 2));
    let (_, r) = c.call(Request::GetAcl(PathRequest { path: "/p".into() }));
    assert!(matches!(r, Response::GetAcl(a) if a.acl == Acl::open_unsafe()));
    let (_, r) = c.call(Request::Sync(PathRequest { path: "/p".into() }));
    assert_eq!(r, Response::Sync(SyncResponse { path: "/p".into() }));
    let (_, r) = c.call(Request::GetAllChildrenNumber(PathRequest {
        path: "/p".into(),
    }));
    assert_eq!(
        r,
        Response::GetAllChildrenNumber(GetAllChildrenNumberResponse { total_number: 3 })
    );
    let (_, r) = c.call(Request::GetEphemerals(GetEphemeralsRequest {
        prefix_path: Some("/p".into()),
    }));
    assert_eq!(
        r,
        Response::GetEphemerals(GetEphemeralsResponse {
            ephemerals: vec!["/p/a".into()]
        })
    );
    let (_, r) = c.call(Request::WhoAmI);
    let Response::WhoAmI(w) = r else { panic!() };
    assert_eq!(
        w.client_info,
        vec![ClientInfo {
            auth_scheme: "ip".into(),
            user: "127.0.0.1".into()
        }]
    );
}

#[test]
fn config_node_and_reconfig_disabled() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let (h, r) = c.get("/zookeeper/config", false);
    assert_eq!(h.err, 0);
    let Response::GetData(d) = r else { panic!() };
    assert_eq!((d.data.unwrap().len(), d.stat.aversion), (0, -1));
    let rc = ReconfigRequest {
        joining_servers: Some("server.2=127.0.0.1:1:2".into()),
        leaving_servers: None,
        new_members: None,
        cur_config_id: -1,
    };
    assert_eq!(c.err(Request::Reconfig(rc)), -123);
    assert_eq!(
        c.err(Request::Create(create_req("/zookeeper/config/x", b"", 0))),
        -102
    );
}

#[test]
fn multi_is_atomic_with_per_op_results() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let ok = MultiRequest {
        ops: vec![
            MultiOp::Create(create_req("/m", b"", 0)),
            MultiOp::Create(create_req("/m/x", b"", 0)),
            MultiOp::SetData(SetDataRequest {
                path: "/m".into(),
                data: Some(Bytes::from_static(b"v")),
                version: 0,
            }),
        ],
    };
    let (h, r) = c.call(Request::Multi(ok));
    let Response::Multi(m) = r else { panic!() };
    assert_eq!(h.err, 0);
    assert!(
        matches!(m.results[2], OpResult::SetData(ref s) if s.stat.mzxid == h.zxid && s.stat.czxid == h.zxid)
    );
    let bad = MultiRequest {
        ops: vec![
            MultiOp::Create(create_req("/n", b"", 0)),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 7,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/x".into(),
                version: -1,
            }),
        ],
    };
    let (h, r) = c.call(Request::Multi(bad));
    assert_eq!(h.err, 0);
    assert_eq!(
        r,
        Response::Multi(zk_codec::MultiResponse {
            results: vec![
                OpResult::Error(0),
                OpResult::Error(-103),
                OpResult::Error(-2)
            ]
        })
    );
    assert_eq!(c.get("/n", false).0.err, -101);
    let (h, r) = c.call(Request::Multi(MultiRequest::default()));
    assert_eq!(
        (h.err, r),
        (0, Response::Multi(zk_codec::MultiResponse::default()))
    );
    let reads = MultiRequest {
        ops: vec![
            MultiOp::GetData(PathWatchRequest {
                path: "/m".into(),
                watch: false,
            }),
            MultiOp::GetChildren(PathWatchRequest {
                path: "/missing".into(),
                watch: false,
            }),
        ],
    };
    let (_, r) = c.call(Request::MultiRead(reads.clone()));
    let Response::Multi(m) = r else { panic!() };
    assert!(matches!(m.results[0], OpResult::GetData(_)));
    assert_eq!(m.results[1], OpResult::Error(-101));
    assert_eq!(c.err(Request::Multi(reads)), -5);
}

#[test]
fn acls_digest_super_ip_and_masking() {
    let s = s_with_types();
    let mut owner = Client::connect(s.addr);
    assert_eq!(owner.add_auth("digest", "alice:secret"), 0);
    let auth_acl = vec![Acl {
        perms: 31,
        id: Id::new("auth", ""),
    }];
    let req = CreateRequest {
        path: "/private".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: auth_acl,
        flags: 0,
    };
    assert_eq!(owner.err(Request::Create(req)), 0);
    let mut other = Client::connect(s.addr);
    assert_eq!(other.get("/private", false).0.err, -102);
    let (_, r) = owner.call(Request::GetAcl(PathRequest {
        path: "/private".into(),
    }));
    let Response::GetAcl(a) = r else { panic!() };
    assert_eq!(
        a.acl[0].id,
        Id::new("digest", rzk::tree::digest_id("alice:secret"))
    );
    let read_only = vec![
        Acl {
            perms: 1,
            id: Id::new("world", "anyone"),
        },
        a.acl[0].clone(),
    ];
    owner.call(Request::SetAcl(SetAclRequest {
        path: "/private".into(),
        acl: read_only,
        version: -1,
    }));
    let (_, r) = other.call(Request::GetAcl(PathRequest {
        path: "/private".into(),
    }));
    let Response::GetAcl(masked) = r else {
        panic!()
    };
    assert_eq!(masked.acl[1].id.id, "alice:x");
    assert_eq!(other.set("/private", b"y", -1).0.err, -102);
    let mut admin = Client::connect(s.addr);
    assert_eq!(admin.add_auth("digest", "super:test"), 0);
    assert_eq!(admin.set("/private", b"y", -1).0.err, 0);
    let ip = CreateRequest {
        path: "/local".into(),
        data: None,
        acl: vec![Acl {
            perms: 31,
            id: Id::new("ip", "127.0.0.0/8"),
        }],
        flags: 0,
    };
    assert_eq!(admin.err(Request::Create(ip)), 0);
    assert_eq!(other.get("/local", false).0.err, 0);
    let bad = CreateRequest {
        path: "/b".into(),
        data: None,
        acl: vec![Acl {
            perms: 31,
            id: Id::new("auth", ""),
        }],
        flags: 0,
    };
    assert_eq!(other.err(Request::Create(bad)), -114);
}

#[test]
fn standalone_check_answers_unimplemented_and_closes() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    assert_eq!(
        c.err(Request::Check(CheckVersionRequest {
            path: "/".into(),
            version: -1
        })),
        -6
    );
    assert!(c.closed());
}

#[test]
fn pipelined_requests_answer_in_order_and_reads_see_earlier_writes() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let mut xids = Vec::new();
    for i in 0..200 {
        xids.push(c.send(&Request::Create(create_req(&format!("/q{i}"), b"", 0))));
        xids.push(c.send(&Request::GetData(PathWatchRequest {
            path: format!("/q{i}"),
            watch: false,
        })));
    }
    for (i, xid) in xids.iter().enumerate() {
        let op = if i % 2 == 0 {
            zk_codec::OpCode::Create
        } else {
            zk_codec::OpCode::GetData
        };
        let (h, _) = c.reply(op);
        assert_eq!((h.xid, h.err), (*xid, 0));
    }
}
