use crate::harness::*;
use zk_codec::records::*;
use zk_codec::{Jute, OpCode, Request};

const CREATED: i32 = 1;
const DELETED: i32 = 2;
const CHANGED: i32 = 3;
const CHILDREN: i32 = 4;

#[test]
fn one_shot_watches_fire_once_with_the_right_type_and_path() {
    let s = Server::start("");
    let mut w = Client::connect(s.addr);
    let mut c = Client::connect(s.addr);
    assert_eq!(
        w.err(Request::Exists(PathWatchRequest {
            path: "/w".into(),
            watch: true
        })),
        -101
    );
    c.create("/w", b"", 0);
    let e = w.event();
    assert_eq!((e.event_type, e.state, e.path.as_str()), (CREATED, 3, "/w"));
    w.get("/w", true);
    w.children("/w", true);
    c.create("/w/k", b"", 0);
    assert_eq!(w.event().event_type, CHILDREN);
    c.set("/w", b"x", -1);
    c.set("/w", b"y", -1);
    assert_eq!(w.event().event_type, CHANGED);
    w.get("/w", true);
    c.delete("/w/k", -1);
    c.delete("/w", -1);
    let e = w.event();
    assert_eq!((e.event_type, e.path.as_str()), (DELETED, "/w"));
    // Nothing else is pending: the next frame is the reply to this ping.
    w.send(&Request::Ping);
    assert_eq!(w.reply(OpCode::Ping).0.xid, -2);
    assert!(w.events.is_empty());
}

#[test]
fn notification_precedes_the_reply_of_the_write_that_caused_it() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/self", b"", 0);
    c.get("/self", true);
    let xid = c.send(&Request::SetData(SetDataRequest {
        path: "/self".into(),
        data: None,
        version: -1,
    }));
    let f = c.read_frame().unwrap();
    let h = ReplyHeader::decode_from(&f, zk_codec::Limits::DEFAULT).unwrap();
    assert_eq!(
        (h.xid, h.zxid),
        (-1, -1),
        "the event comes first, with zxid -1 as in 3.8"
    );
    assert_eq!(c.reply(OpCode::SetData).0.xid, xid);
}

#[test]
fn persistent_and_recursive_watches_keep_firing() {
    let s = Server::start("");
    let mut w = Client::connect(s.addr);
    let mut c = Client::connect(s.addr);
    c.create("/r", b"", 0);
    assert_eq!(
        w.err(Request::AddWatch(AddWatchRequest {
            path: "/r".into(),
            mode: 0
        })),
        0
    );
    assert_eq!(
        w.err(Request::AddWatch(AddWatchRequest {
            path: "/deep".into(),
            mode: 1
        })),
        0
    );
    c.set("/r", b"1", -1);
    c.set("/r", b"2", -1);
    assert_eq!(
        (w.event().event_type, w.event().event_type),
        (CHANGED, CHANGED)
    );
    c.create("/r/kid", b"", 0);
    let e = w.event();
    assert_eq!((e.event_type, e.path.as_str()), (CHILDREN, "/r"));
    c.create("/deep", b"", 0);
    c.create("/deep/a", b"", 0);
    c.create("/deep/a/b", b"", 0);
    let got: Vec<(i32, String)> = (0..3)
        .map(|_| w.event())
        .map(|e| (e.event_type, e.path))
        .collect();
    assert_eq!(
        got,
        vec![
            (CREATED, "/deep".into()),
            (CREATED, "/deep/a".into()),
            (CREATED, "/deep/a/b".into())
        ]
    );
    let rm = |t| {
        Request::RemoveWatches(WatchesRequest {
            path: "/r".into(),
            watcher_type: t,
        })
    };
    assert_eq!(w.err(rm(3)), 0);
    assert_eq!(w.err(rm(3)), -121);
    assert_eq!(
        w.err(Request::CheckWatches(WatchesRequest {
            path: "/nothing".into(),
            watcher_type: 2
        })),
        -121
    );
}

#[test]
fn set_watches_replays_missed_events_before_its_reply() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/sw", b"", 0);
    c.create("/exists-now", b"", 0);
    let (h, _) = c.get("/sw", false);
    let seen = h.zxid;
    c.set("/sw", b"changed", -1);
    let mut r = Client::connect(s.addr);
    let sw = SetWatches2 {
        relative_zxid: seen,
        data_watches: vec!["/sw".into(), "/gone".into()],
        exist_watches: vec!["/exists-now".into(), "/not-yet".into()],
        child_watches: vec![],
        persistent_watches: vec!["/pw".into()],
        persistent_recursive_watches: vec![],
    };
    r.send(&Request::SetWatches2(sw));
    let (h, _) = r.reply(OpCode::SetWatches2);
    assert_eq!(h.xid, -8);
    let got: Vec<(i32, String)> = r.events.drain(..).map(|e| (e.event_type, e.path)).collect();
    assert_eq!(
        got,
        vec![
            (CHANGED, "/sw".into()),
            (DELETED, "/gone".into()),
            (CREATED, "/exists-now".into())
        ]
    );
    c.create("/not-yet", b"", 0);
    assert_eq!(r.event().path, "/not-yet");
    c.create("/pw", b"", 0);
    assert_eq!(r.event().path, "/pw");
}

#[test]
fn events_need_read_permission() {
    let s = Server::start("");
    let mut w = Client::connect(s.addr);
    let mut c = Client::connect(s.addr);
    c.create("/open", b"", 0);
    w.get("/open", true);
    let locked = vec![
        Acl {
            perms: 31,
            id: Id::new("digest", "u:h"),
        },
        Acl {
            perms: 2,
            id: Id::new("world", "anyone"),
        },
    ];
    c.call(Request::SetAcl(SetAclRequest {
        path: "/open".into(),
        acl: locked,
        version: -1,
    }));
    c.set("/open", b"x", -1);
    w.send(&Request::Ping);
    w.reply(OpCode::Ping);
    assert!(
        w.events.is_empty(),
        "no event for a node the watcher can no longer read"
    );
}
