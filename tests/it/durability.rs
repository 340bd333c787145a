//! Acknowledged writes survive kill -9; torn log tails and corrupt snapshots are recovered
//! from; a log with a gap is refused.

use crate::harness::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zk_codec::records::*;
use zk_codec::Request;

fn children(s: &Server, path: &str) -> HashSet<String> {
    let mut c = Client::connect(s.addr);
    c.children(path, false).into_iter().collect()
}

#[test]
fn restart_keeps_data_sessions_ephemerals_and_zxids() {
    let mut s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/keep", b"v", 0);
    let (h, _) = c.create("/keep/eph", b"", 1);
    let before = h.zxid;
    s.crash_and_restart();
    let req = connect_request(c.session, c.passwd.clone(), 30000, Some(false));
    let mut req = req;
    req.last_zxid_seen = before;
    let (mut again, r) = Client::handshake(s.addr, req);
    assert!(r.unwrap().timeout > 0, "the session survives a restart");
    assert_eq!(again.stat("/keep/eph").ephemeral_owner, c.session);
    let (h, _) = again.create("/after", b"", 0);
    assert!(
        h.zxid > before,
        "zxids never go back: {:x} vs {before:x}",
        h.zxid
    );
    let (_, r) = again.get("/keep", false);
    assert!(matches!(r, zk_codec::Response::GetData(d) if d.data.as_deref() == Some(&b"v"[..])));
}

#[test]
fn sigterm_exits_cleanly() {
    let mut s = Server::start("");
    Client::connect(s.addr).create("/x", b"", 0);
    assert!(s.terminate().success());
}

/// A small deterministic generator for the kill moments.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn kill_9_loop_loses_no_acknowledged_write() {
    let mut s = Server::start("snapCount=200\npreAllocSize=16");
    Client::connect(s.addr).create("/k", b"", 0);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let mut rng = Lcg(0x5eed);
    for round in 0..20 {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (addr, acked, sent) = (s.addr, acked.clone(), sent.clone());
                std::thread::spawn(move || {
                    // The kill can come before a writer has connected (a loaded machine).
                    let Some(mut c) = Client::try_connect(addr) else {
                        return;
                    };
                    for n in 0..100_000 {
                        let name = format!("r{round}-w{w}-{n}");
                        sent.lock().unwrap().insert(name.clone());
                        let req = Request::Create(create_req(&format!("/k/{name}"), b"data", 0));
                        match c.try_call(req) {
                            Some(h) if h.err == 0 => {
                                acked.lock().unwrap().insert(name);
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + rng.next(150)));
        s.crash_and_restart();
        for w in writers {
            w.join().unwrap();
        }
        let present = children(&s, "/k");
        let acked = acked.lock().unwrap();
        let lost: Vec<_> = acked.difference(&present).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged writes lost, e.g. {:?}",
            lost.len(),
            lost.first()
        );
        let sent = sent.lock().unwrap();
        assert!(
            present.is_subset(&sent),
            "round {round}: a node nobody wrote appeared"
        );
    }
    assert!(
        acked.lock().unwrap().len() > 100,
        "the writers made progress"
    );
}

fn segments(s: &Server) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(s.dir.join("data/rzk/log"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn torn_tail_is_cut_and_the_server_starts() {
    let mut s = Server::start("");
    let mut c = Client::connect(s.addr);
    for i in 0..50 {
        c.create(&format!("/t{i}"), b"0123456789", 0);
    }
    s.kill9();
    let last = segments(&s).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    // Segments are allocated up front: the records end where a zero length field starts.
    let mut end = 0;
    while end + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[end..end + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        end += 8 + len;
    }
    bytes.truncate(end - 7);
    let n = bytes.len();
    bytes[n - 3] ^= 0x5a;
    std::fs::write(&last, bytes).unwrap();
    s.try_restart()
        .expect("restarts after cutting the torn tail");
    let mut c = Client::connect(s.addr);
    assert_eq!(
        c.get("/t48", false).0.err,
        0,
        "entries before the torn one are intact"
    );
    assert_eq!(
        c.create("/t49", b"", 0).0.err,
        0,
        "the torn create is gone and the log continues"
    );
}

#[test]
fn corrupt_newest_snapshot_falls_back_to_an_older_one() {
    let mut s = Server::start("snapCount=20");
    let mut c = Client::connect(s.addr);
    for i in 0..120 {
        c.create(&format!("/s{i}"), b"x", 0);
    }
    s.kill9();
    let dir = s.dir.join("data/rzk/snapshots");
    // A snapshot still being written at the kill is a `.tmp` file (removed at the restart, see
    // `storage::snapshot::remove_partial`), not one to corrupt.
    let mut snaps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none())
        .collect();
    snaps.sort();
    assert!(snaps.len() >= 2, "snapshots were taken: {snaps:?}");
    let newest = snaps.pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    s.try_restart().expect("starts from an older snapshot");
    let present = children(&s, "/");
    assert!(
        (0..120).all(|i| present.contains(&format!("s{i}"))),
        "all 120 nodes back"
    );
}

#[test]
fn a_gap_between_snapshot_and_log_refuses_to_start() {
    let mut s = Server::start("snapCount=20\npreAllocSize=1");
    let mut c = Client::connect(s.addr);
    for i in 0..200 {
        c.create(
            &format!("/g{i}"),
            b"0123456789012345678901234567890123456789",
            0,
        );
    }
    s.kill9();
    let dir = s.dir.join("data/rzk/snapshots");
    for snap in std::fs::read_dir(&dir).unwrap().flatten() {
        std::fs::write(snap.path(), b"garbage").unwrap();
    }
    let first = segments(&s)[0].clone();
    assert!(
        !first.ends_with("log-00000000000000000001"),
        "old segments were purged: {first:?}"
    );
    let (status, stderr) = s.try_restart().expect_err("must refuse");
    assert!(!status.success());
    assert!(stderr.contains("gap"), "clear message: {stderr}");
}

#[test]
fn sync_waits_for_the_read_point() {
    let s = Server::start("");
    let mut a = Client::connect(s.addr);
    a.create("/sy", b"", 0);
    let xid = a.send(&Request::SetData(SetDataRequest {
        path: "/sy".into(),
        data: None,
        version: -1,
    }));
    let sx = a.send(&Request::Sync(PathRequest { path: "/sy".into() }));
    assert_eq!(a.reply(zk_codec::OpCode::SetData).0.xid, xid);
    let (h, r) = a.reply(zk_codec::OpCode::Sync);
    assert_eq!(
        (h.xid, r),
        (
            sx,
            zk_codec::Response::Sync(SyncResponse { path: "/sy".into() })
        )
    );
}

#[test]
fn a_quiet_server_snapshots_what_it_wrote_since_the_last_snapshot() {
    // 150 txns: under snapCount, over a tenth of it.
    let s = Server::start("snapCount=1000");
    let mut c = Client::connect(s.addr);
    for i in 0..150 {
        c.create(&format!("/q{i}"), b"x", 0);
    }
    let dir = s.dir.join("data/rzk/snapshots");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let snapshots = || {
        std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("snapshot-"))
                    .count()
            })
            .unwrap_or(0)
    };
    while snapshots() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot within 20 s of the writes stopping"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
