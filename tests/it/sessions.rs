use crate::harness::*;
use zk_codec::records::*;
use zk_codec::Request;

#[test]
fn expired_session_loses_ephemerals_watchers_hear_and_reconnect_is_refused() {
    // tickTime 100: a 200 ms session expires between 200 and 300 ms after its last packet.
    let s = Server::start("tickTime=100");
    let (mut a, r) = Client::handshake(
        s.addr,
        connect_request(0, bytes::Bytes::from_static(&[0; 16]), 200, Some(false)),
    );
    assert_eq!(r.unwrap().timeout, 200);
    a.create("/gone", b"", 1);
    let mut w = Client::connect(s.addr);
    assert_eq!(
        w.err(Request::Exists(PathWatchRequest {
            path: "/gone".into(),
            watch: true
        })),
        0
    );
    // a goes silent; w keeps its own session alive by waiting on the event.
    let e = w.event();
    assert_eq!((e.event_type, e.path.as_str()), (2, "/gone"));
    assert!(a.closed(), "the expired session's connection is closed");
    let (mut again, r) = Client::handshake(
        s.addr,
        connect_request(a.session, a.passwd.clone(), 200, Some(false)),
    );
    assert_eq!(r.unwrap().timeout, 0, "told Expired");
    assert!(again.closed());
}

#[test]
fn containers_and_ttl_nodes_are_reaped() {
    let s = Server::start(
        "tickTime=100\nextendedTypesEnabled=true\nznode.container.checkIntervalMs=50",
    );
    let mut c = Client::connect(s.addr);
    assert_eq!(c.err(Request::CreateContainer(create_req("/c", b"", 4))), 0);
    assert_eq!(c.create("/c/child", b"", 0).0.err, 0);
    let ttl = CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5,
        ttl: 1,
    };
    assert_eq!(c.err(Request::CreateTtl(ttl)), 0);
    assert_eq!(
        c.err(Request::Exists(PathWatchRequest {
            path: "/c".into(),
            watch: true
        })),
        0
    );
    assert_eq!(
        c.err(Request::Exists(PathWatchRequest {
            path: "/ttl".into(),
            watch: true
        })),
        0
    );
    assert_eq!(c.delete("/c/child", -1), 0);
    let mut deleted = vec![c.event(), c.event()];
    deleted.retain(|e| e.event_type == 2);
    let mut paths: Vec<_> = deleted.iter().map(|e| e.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/c".to_string(), "/ttl".to_string()]);
}
