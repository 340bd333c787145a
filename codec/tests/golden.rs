//! Golden vectors: frames captured from a real ZooKeeper 3.8 server and its Java client (see
//! `tests/capture/`, which regenerates `tests/vectors/`). Every vector must decode into its typed
//! value and re-encode to the identical bytes; selected vectors also have their fields checked.
//! This test needs no ZooKeeper: it only reads the checked-in files.

use bytes::BytesMut;
use std::path::{Path, PathBuf};
use zk_codec::records::*;
use zk_codec::{
    decode_reply, decode_request, split_frame, write_frame, AddWatchMode, CreateMode, ErrorCode,
    EventType, Jute, KeeperState, Limits, MultiOp, OpCode, OpResult, Request, Response,
    WatcherType,
};

const LIM: Limits = Limits::DEFAULT;

/// Every vector the capture produces; each must be present (extra files are tested too).
const REQUIRED: &[&str] = &[
    "addWatch-persistent-reply",
    "addWatch-persistent-request",
    "addWatch-recursive-reply",
    "addWatch-recursive-request",
    "auth-reply",
    "auth-request",
    "closeSession-reply",
    "closeSession-request",
    "connect-expired-ro0-reply",
    "connect-expired-ro0-request",
    "connect-new-noro-reply",
    "connect-new-noro-request",
    "connect-new-ro0-reply",
    "connect-new-ro0-request",
    "connect-new-ro1-reply",
    "connect-new-ro1-request",
    "connect-resume-ro0-reply",
    "connect-resume-ro0-request",
    "create-child-event-event",
    "create-child-event-reply",
    "create-child-event-request",
    "create-reply",
    "create-request",
    "create2-nodeexists-reply",
    "create2-nodeexists-request",
    "create2-reply",
    "create2-request",
    "create2-sequential-reply",
    "create2-sequential-request",
    "createContainer-reply",
    "createContainer-request",
    "createTTL-reply",
    "createTTL-request",
    "delete-notempty-reply",
    "delete-notempty-request",
    "delete-reply",
    "delete-request",
    "exists-nonode-watch-reply",
    "exists-nonode-watch-request",
    "exists-reply",
    "exists-request",
    "getACL-reply",
    "getACL-request",
    "getAllChildrenNumber-reply",
    "getAllChildrenNumber-request",
    "getChildren-watch-reply",
    "getChildren-watch-request",
    "getChildren2-reply",
    "getChildren2-request",
    "getData-nonode-reply",
    "getData-nonode-request",
    "getData-watch-reply",
    "getData-watch-request",
    "getEphemerals-reply",
    "getEphemerals-request",
    "multi-fail-reply",
    "multi-fail-request",
    "multi-reply",
    "multi-request",
    "multiRead-reply",
    "multiRead-request",
    "persistent-event-event",
    "persistent-event-event-2",
    "persistent-event-reply",
    "persistent-event-request",
    "raw-auth-failed-reply",
    "raw-auth-failed-request",
    "raw-closeSession-reply",
    "raw-closeSession-request",
    "raw-ping-reply",
    "raw-ping-request",
    "raw-setWatches2-event",
    "raw-setWatches2-event-2",
    "raw-setWatches2-reply",
    "raw-setWatches2-request",
    "rearm-watches-2-reply",
    "rearm-watches-2-request",
    "rearm-watches-reply",
    "rearm-watches-request",
    "session-b-reply",
    "session-b-request",
    "session-c-close-reply",
    "session-c-close-request",
    "session-c-removeWatches-reply",
    "session-c-removeWatches-request",
    "session-c-watch-reply",
    "session-c-watch-request",
    "setACL-reply",
    "setACL-request",
    "setData-badversion-reply",
    "setData-badversion-request",
    "setData-event",
    "setData-reply",
    "setData-request",
    "setWatches-reply",
    "setWatches-request",
    "setWatches2-reply",
    "setWatches2-request",
    "sync-reply",
    "sync-request",
    "whoAmI-reply",
    "whoAmI-request",
];

/// One vector file: `#` comments, a `kind:` line, then the whole frame in hex.
#[derive(Debug)]
struct Vector {
    name: String,
    kind: String,
    frame: Vec<u8>,
}

/// A decoded frame.
#[derive(Debug)]
enum Decoded {
    ConnectRequest(ConnectRequest),
    ConnectResponse(ConnectResponse),
    Request(RequestHeader, Request),
    Reply(ReplyHeader, Response),
    Event(ReplyHeader, WatcherEvent),
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn parse(name: &str, text: &str) -> Vector {
    let mut kind = None;
    let mut hex_text = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(k) = line.strip_prefix("kind:") {
            assert!(kind.is_none(), "{name}: two kind lines");
            kind = Some(k.trim().to_owned());
        } else {
            assert!(kind.is_some(), "{name}: hex before the kind line");
            hex_text.push_str(line);
        }
    }
    let frame = hex::decode(&hex_text).unwrap_or_else(|e| panic!("{name}: bad hex: {e}"));
    assert!(!frame.is_empty(), "{name}: no bytes");
    Vector {
        name: name.to_owned(),
        kind: kind.unwrap_or_else(|| panic!("{name}: no kind line")),
        frame,
    }
}

fn load(name: &str) -> Vector {
    let path = dir().join(format!("{name}.vec"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden vector {} missing: {e}", path.display()));
    parse(name, &text)
}

fn all() -> Vec<Vector> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("no vector directory {}: {e}", dir().display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("vec") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        out.push(parse(&name, &std::fs::read_to_string(&path).unwrap()));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn op_named(name: &str) -> OpCode {
    *OpCode::ALL
        .iter()
        .find(|o| o.name() == name)
        .unwrap_or_else(|| panic!("unknown op name {name}"))
}

/// Strips the length prefix with `split_frame`, which must take the whole vector.
fn payload(v: &Vector) -> BytesMut {
    let mut buf = BytesMut::from(&v.frame[..]);
    let payload = split_frame(&mut buf, LIM.max_buffer)
        .unwrap_or_else(|e| panic!("{}: frame error {e}", v.name))
        .unwrap_or_else(|| panic!("{}: incomplete frame", v.name));
    assert!(buf.is_empty(), "{}: bytes after the frame", v.name);
    payload
}

/// Decodes with `T`, requiring that nothing is left over.
fn whole<T: Jute>(name: &str, input: &[u8]) -> T {
    let (rest, v) = T::decode(input, LIM).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert!(rest.is_empty(), "{name}: {} trailing bytes", rest.len());
    v
}

fn decode(v: &Vector) -> Decoded {
    let p = payload(v);
    let name = &v.name;
    match v.kind.as_str() {
        "connect_request" => Decoded::ConnectRequest(whole(name, &p)),
        "connect_response" => Decoded::ConnectResponse(whole(name, &p)),
        "request" => {
            let (h, r) = decode_request(&p, LIM).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            Decoded::Request(h, r)
        }
        "event" => {
            let (body, h) = ReplyHeader::decode(&p, LIM).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(h.xid, xid::NOTIFICATION, "{name}: event xid");
            Decoded::Event(h, whole(name, body))
        }
        kind => {
            let op = kind
                .strip_prefix("reply:")
                .unwrap_or_else(|| panic!("{name}: unknown kind {kind}"));
            let (h, r) =
                decode_reply(op_named(op), &p, LIM).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            Decoded::Reply(h, r)
        }
    }
}

fn encode(d: &Decoded) -> BytesMut {
    let mut out = BytesMut::new();
    write_frame(&mut out, |o| match d {
        Decoded::ConnectRequest(r) => r.encode(o),
        Decoded::ConnectResponse(r) => r.encode(o),
        Decoded::Request(h, r) => {
            h.encode(o);
            r.encode(o);
        }
        Decoded::Reply(h, r) => {
            h.encode(o);
            r.encode(o);
        }
        Decoded::Event(h, e) => {
            h.encode(o);
            e.encode(o);
        }
    });
    out
}

/// Decodes and checks the bit-exact round trip.
fn roundtrip(v: &Vector) -> Decoded {
    let d = decode(v);
    let again = encode(&d);
    assert_eq!(
        hex::encode(&again),
        hex::encode(&v.frame),
        "{}: re-encoding differs; decoded as {d:?}",
        v.name
    );
    d
}

fn golden(name: &str) -> Decoded {
    roundtrip(&load(name))
}

#[test]
fn every_vector_round_trips_bit_exactly() {
    let vectors = all();
    assert!(
        vectors.len() >= REQUIRED.len(),
        "found {} vectors, expected at least {}",
        vectors.len(),
        REQUIRED.len()
    );
    for name in REQUIRED {
        assert!(
            vectors.iter().any(|v| v.name == *name),
            "golden vector {name} missing"
        );
    }
    for v in &vectors {
        let d = roundtrip(v);
        if std::env::var_os("GOLDEN_DUMP").is_some() {
            println!("{}: {d:?}", v.name);
        }
    }
}

#[test]
fn the_round_trip_check_catches_damage() {
    // Guards the guard: a frame with one extra byte inside it (prefix adjusted) still decodes,
    // because readers ignore trailing bytes as ZooKeeper's do, but must fail the byte comparison.
    let mut v = load("create2-request");
    v.frame.push(0);
    let len = (v.frame.len() - 4) as i32;
    v.frame[..4].copy_from_slice(&len.to_be_bytes());
    assert!(std::panic::catch_unwind(|| roundtrip(&v)).is_err());
    // And a parse of a vector file without a kind line is refused.
    assert!(std::panic::catch_unwind(|| parse("x", "# c\n00000000\n")).is_err());
}

fn request(name: &str) -> (RequestHeader, Request) {
    match golden(name) {
        Decoded::Request(h, r) => (h, r),
        d => panic!("{name}: not a request: {d:?}"),
    }
}

fn reply(name: &str) -> (ReplyHeader, Response) {
    match golden(name) {
        Decoded::Reply(h, r) => (h, r),
        d => panic!("{name}: not a reply: {d:?}"),
    }
}

fn event(name: &str) -> (ReplyHeader, WatcherEvent) {
    match golden(name) {
        Decoded::Event(h, e) => (h, e),
        d => panic!("{name}: not an event: {d:?}"),
    }
}

fn connect_request(name: &str) -> ConnectRequest {
    match golden(name) {
        Decoded::ConnectRequest(r) => r,
        d => panic!("{name}: not a ConnectRequest: {d:?}"),
    }
}

fn connect_response(name: &str) -> ConnectResponse {
    match golden(name) {
        Decoded::ConnectResponse(r) => r,
        d => panic!("{name}: not a ConnectResponse: {d:?}"),
    }
}

/// The error reply of `name`: header err as given, no body.
fn error_reply(name: &str, code: ErrorCode) {
    let (h, r) = reply(name);
    assert_eq!(h.err, code.code(), "{name}");
    assert_eq!(r, Response::Empty, "{name}");
    assert_eq!(load(name).frame.len(), 4 + 16, "{name}: header only");
}

#[test]
fn handshake_with_read_only_byte() {
    let req = connect_request("connect-new-ro0-request");
    assert_eq!(load("connect-new-ro0-request").frame.len(), 4 + 45);
    assert_eq!(req.read_only, Some(false));
    assert_eq!((req.protocol_version, req.session_id), (0, 0));
    assert_eq!((req.timeout, req.passwd.len()), (30000, 16));
    let resp = connect_response("connect-new-ro0-reply");
    assert_eq!(load("connect-new-ro0-reply").frame.len(), 4 + 37);
    assert_eq!(resp.read_only, Some(false));
    assert_eq!(resp.timeout, 30000);
    assert_ne!(resp.session_id, 0);
    assert_eq!(resp.passwd.len(), 16);

    // canBeReadOnly: the client sends 1; a read-write server still answers 0.
    assert_eq!(
        connect_request("connect-new-ro1-request").read_only,
        Some(true)
    );
    assert_eq!(
        connect_response("connect-new-ro1-reply").read_only,
        Some(false)
    );
}

#[test]
fn handshake_without_read_only_byte() {
    let req = connect_request("connect-new-noro-request");
    assert_eq!(load("connect-new-noro-request").frame.len(), 4 + 44);
    assert_eq!(req.read_only, None);
    let resp = connect_response("connect-new-noro-reply");
    assert_eq!(load("connect-new-noro-reply").frame.len(), 4 + 36);
    assert_eq!(resp.read_only, None);
    assert_eq!(resp.timeout, 30000);
    assert_ne!(resp.session_id, 0);
}

#[test]
fn handshake_resume_and_expiry() {
    let first = connect_response("connect-new-ro0-reply");
    let resume = connect_request("connect-resume-ro0-request");
    assert_eq!(resume.session_id, first.session_id);
    assert_eq!(resume.passwd, first.passwd);
    assert!(resume.last_zxid_seen > 0);
    let resumed = connect_response("connect-resume-ro0-reply");
    assert_eq!(resumed.session_id, first.session_id);
    assert_eq!(resumed.timeout, 30000);

    let expired = connect_response("connect-expired-ro0-reply");
    assert_eq!((expired.timeout, expired.session_id), (0, 0));
    assert_eq!(expired.passwd.as_ref(), &[0u8; 16]);
    assert_eq!(expired.read_only, Some(false));
}

#[test]
fn create2_request_and_reply() {
    let (h, r) = request("create2-request");
    assert_eq!(h.op, OpCode::Create2.code());
    let Request::Create2(c) = r else {
        panic!("not create2: {r:?}")
    };
    assert_eq!(c.path, "/golden");
    assert_eq!(c.data.as_deref(), Some(&b"root"[..]));
    assert_eq!(c.acl, Acl::open_unsafe());
    assert_eq!(c.flags, CreateMode::Persistent.code());

    let (rh, resp) = reply("create2-reply");
    assert_eq!((rh.xid, rh.err), (h.xid, 0));
    let Response::Create2(c) = resp else {
        panic!("not create2: {resp:?}")
    };
    assert_eq!(c.path, "/golden");
    assert_eq!(
        (c.stat.czxid, c.stat.mzxid, c.stat.pzxid),
        (rh.zxid, rh.zxid, rh.zxid)
    );
    assert_eq!((c.stat.version, c.stat.data_length), (0, 4));

    let (_, r) = request("create2-sequential-request");
    assert!(
        matches!(r, Request::Create2(ref c) if c.flags == CreateMode::PersistentSequential.code())
    );
    let (_, resp) = reply("create2-sequential-reply");
    assert!(matches!(resp, Response::Create2(ref c) if c.path == "/golden/seq-0000000001"));
    error_reply("create2-nodeexists-reply", ErrorCode::NodeExists);
}

#[test]
fn other_creates() {
    // create (1) with null data: the buffer is -1, kept as None.
    let (_, r) = request("create-request");
    let Request::Create(c) = r else {
        panic!("not create: {r:?}")
    };
    assert_eq!((c.path.as_str(), c.data, c.flags), ("/golden/eph", None, 1));
    assert!(matches!(reply("create-reply").1, Response::Create(ref c) if c.path == "/golden/eph"));

    let (_, r) = request("createContainer-request");
    assert!(
        matches!(r, Request::CreateContainer(ref c) if c.flags == CreateMode::Container.code())
    );
    assert!(matches!(
        reply("createContainer-reply").1,
        Response::Create2(_)
    ));

    let (_, r) = request("createTTL-request");
    let Request::CreateTtl(c) = r else {
        panic!("not createTTL: {r:?}")
    };
    assert_eq!(
        (c.flags, c.ttl),
        (CreateMode::PersistentWithTtl.code(), 60000)
    );
    assert!(
        matches!(reply("createTTL-reply").1, Response::Create2(ref c) if c.path == "/golden/ttl")
    );
}

#[test]
fn multi_with_a_failure() {
    let (h, r) = request("multi-fail-request");
    assert_eq!(h.op, OpCode::Multi.code());
    let Request::Multi(m) = r else {
        panic!("not multi: {r:?}")
    };
    let ops: Vec<_> = m.ops.iter().map(|o| (o.op(), o.path())).collect();
    assert_eq!(
        ops,
        [
            (OpCode::Create, "/golden/m1"),
            (OpCode::SetData, "/golden"),
            (OpCode::Delete, "/golden/child")
        ]
    );
    assert!(matches!(&m.ops[1], MultiOp::SetData(s) if s.version == 99));

    // ZooKeeper answers err 0 in the header; the per-op results carry the failure: 0 for the
    // op before the failing one, the real code for it, RuntimeInconsistency after it.
    let (rh, resp) = reply("multi-fail-reply");
    assert_eq!((rh.xid, rh.err), (h.xid, 0));
    let Response::Multi(m) = resp else {
        panic!("not multi: {resp:?}")
    };
    assert_eq!(
        m.results,
        [
            OpResult::Error(ErrorCode::Ok.code()),
            OpResult::Error(ErrorCode::BadVersion.code()),
            OpResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ]
    );
}

#[test]
fn multi_success_and_multi_read() {
    let (_, resp) = reply("multi-reply");
    let Response::Multi(m) = resp else {
        panic!("not multi: {resp:?}")
    };
    assert!(matches!(
        m.results.as_slice(),
        [OpResult::Create(c), OpResult::SetData(s), OpResult::Check, OpResult::Delete]
            if c.path == "/golden/m2" && s.stat.version == 1
    ));

    let (h, r) = request("multiRead-request");
    assert_eq!(h.op, OpCode::MultiRead.code());
    assert!(matches!(r, Request::MultiRead(ref m) if m.ops.len() == 3));
    let (_, resp) = reply("multiRead-reply");
    let Response::Multi(m) = resp else {
        panic!("not multi: {resp:?}")
    };
    assert!(matches!(
        m.results.as_slice(),
        [OpResult::GetData(d), OpResult::GetChildren(c), OpResult::Error(-101)]
            if d.data.as_deref() == Some(&b"v2"[..]) && c.children.contains(&"child".to_owned())
    ));
}

#[test]
fn watch_notifications() {
    let (h, e) = event("setData-event");
    assert_eq!((h.xid, h.zxid, h.err), (-1, -1, 0));
    assert_eq!(e.event_type, EventType::NodeDataChanged.code());
    assert_eq!(e.state, KeeperState::SyncConnected.code());
    assert_eq!(e.path, "/golden");
    // The notification is decoded by decode_reply as a header without body, too.
    let p = payload(&load("setData-event"));
    let (rh, resp) = decode_reply(OpCode::Notification, &p, LIM).unwrap();
    assert_eq!((rh.xid, resp), (xid::NOTIFICATION, Response::Empty));

    let (_, e) = event("create-child-event-event");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged.code(), "/golden")
    );
    let (_, e) = event("persistent-event-event");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated.code(), "/golden/pw")
    );
}

#[test]
fn set_watches_on_resume() {
    // The 3.8 Java client resumes with setWatches2 when it holds persistent watches, and sends
    // it with an ordinary xid (not -8).
    let (h, r) = request("setWatches2-request");
    assert_eq!(h.op, OpCode::SetWatches2.code());
    let Request::SetWatches2(w) = r else {
        panic!("not setWatches2: {r:?}")
    };
    assert_eq!(w.data_watches, ["/golden"]);
    assert_eq!(w.exist_watches, ["/golden/watched"]);
    assert_eq!(w.child_watches, ["/golden"]);
    assert_eq!(w.persistent_watches, ["/golden/pw"]);
    assert_eq!(w.persistent_recursive_watches, ["/golden/tree"]);
    assert!(w.relative_zxid > 0);
    let (rh, resp) = reply("setWatches2-reply");
    assert_eq!((rh.xid, rh.err, resp), (h.xid, 0, Response::Empty));

    let (h, r) = request("raw-setWatches2-request");
    assert_eq!(h.xid, xid::SET_WATCHES);
    assert!(matches!(r, Request::SetWatches2(ref w) if w.persistent_recursive_watches.len() == 2));
    assert_eq!(reply("raw-setWatches2-reply").0.xid, xid::SET_WATCHES);

    // Without persistent watches it falls back to setWatches (101).
    let (h, r) = request("setWatches-request");
    assert_eq!(h.op, OpCode::SetWatches.code());
    assert!(matches!(r, Request::SetWatches(ref w) if w.data_watches == ["/golden/child"]));
}

#[test]
fn reads() {
    let (_, r) = request("getData-watch-request");
    assert!(matches!(r, Request::GetData(ref g) if g.path == "/golden" && g.watch));
    let (_, resp) = reply("getData-watch-reply");
    assert!(
        matches!(resp, Response::GetData(ref g) if g.data.as_deref() == Some(&b"root"[..]) && g.stat.data_length == 4)
    );
    error_reply("getData-nonode-reply", ErrorCode::NoNode);
    error_reply("exists-nonode-watch-reply", ErrorCode::NoNode);
    assert!(matches!(reply("exists-reply").1, Response::Stat(ref s) if s.stat.czxid > 0));

    let (_, r) = request("getChildren2-request");
    assert!(matches!(r, Request::GetChildren2(ref g) if !g.watch));
    let (_, resp) = reply("getChildren2-reply");
    let Response::GetChildren2(c) = resp else {
        panic!("not getChildren2: {resp:?}")
    };
    assert_eq!(c.stat.num_children as usize, c.children.len());
    assert!(
        matches!(reply("getChildren-watch-reply").1, Response::GetChildren(ref c) if c.children.len() == 4)
    );

    let (_, resp) = reply("getACL-reply");
    assert!(matches!(resp, Response::GetAcl(ref a) if a.acl == Acl::open_unsafe()));
    assert!(
        matches!(reply("getEphemerals-reply").1, Response::GetEphemerals(ref e) if e.ephemerals == ["/golden/eph"])
    );
    assert!(
        matches!(request("getEphemerals-request").1, Request::GetEphemerals(ref g) if g.prefix_path.as_deref() == Some("/golden"))
    );
    assert!(
        matches!(reply("getAllChildrenNumber-reply").1, Response::GetAllChildrenNumber(ref n) if n.total_number == 5)
    );
    assert!(matches!(reply("sync-reply").1, Response::Sync(ref s) if s.path == "/golden"));
}

#[test]
fn writes() {
    let (_, r) = request("setData-request");
    assert!(
        matches!(r, Request::SetData(ref s) if s.version == -1 && s.data.as_deref() == Some(&b"v2"[..]))
    );
    assert!(matches!(reply("setData-reply").1, Response::Stat(ref s) if s.stat.version == 1));
    error_reply("setData-badversion-reply", ErrorCode::BadVersion);

    let (_, r) = request("setACL-request");
    let Request::SetAcl(s) = r else {
        panic!("not setACL: {r:?}")
    };
    assert_eq!(s.acl.len(), 2);
    assert_eq!(s.acl[1].id, Id::new("ip", "127.0.0.1"));
    assert!(matches!(reply("setACL-reply").1, Response::Stat(ref s) if s.stat.aversion == 1));

    assert!(
        matches!(request("delete-request").1, Request::Delete(ref d) if d.path == "/golden/container")
    );
    let (h, resp) = reply("delete-reply");
    assert_eq!((h.err, resp), (0, Response::Empty));
    error_reply("delete-notempty-reply", ErrorCode::NotEmpty);
}

#[test]
fn session_and_watch_management() {
    let (h, r) = request("auth-request");
    assert_eq!(h.xid, xid::AUTH);
    assert!(
        matches!(r, Request::Auth(ref a) if a.scheme == "digest" && a.auth.as_ref() == b"user:pw")
    );
    assert_eq!(reply("auth-reply").0.xid, xid::AUTH);
    let (h, resp) = reply("raw-auth-failed-reply");
    assert_eq!(
        (h.xid, h.err, resp),
        (xid::AUTH, ErrorCode::AuthFailed.code(), Response::Empty)
    );

    assert_eq!(request("whoAmI-request").1, Request::WhoAmI);
    let (_, resp) = reply("whoAmI-reply");
    let Response::WhoAmI(w) = resp else {
        panic!("not whoAmI: {resp:?}")
    };
    let ids: Vec<_> = w
        .client_info
        .iter()
        .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
        .collect();
    assert_eq!(ids, [("digest", "user"), ("ip", "127.0.0.1")]);

    let (h, r) = request("raw-ping-request");
    assert_eq!((h.xid, r), (xid::PING, Request::Ping));
    assert_eq!(reply("raw-ping-reply").0.xid, xid::PING);

    assert_eq!(request("closeSession-request").1, Request::CloseSession);
    assert_eq!(reply("closeSession-reply").1, Response::Empty);

    let (_, r) = request("addWatch-recursive-request");
    assert!(
        matches!(r, Request::AddWatch(ref a) if a.mode == AddWatchMode::PersistentRecursive.code())
    );
    // addWatch replies carry a 4-byte zero body.
    assert_eq!(
        reply("addWatch-persistent-reply").1,
        Response::Error(ErrorResponse { err: 0 })
    );

    let (h, r) = request("session-c-removeWatches-request");
    assert_eq!(h.op, OpCode::RemoveWatches.code());
    assert!(
        matches!(r, Request::RemoveWatches(ref w) if w.watcher_type == WatcherType::Any.code())
    );
}
