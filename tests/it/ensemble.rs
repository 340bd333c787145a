//! A 3-member ensemble from zoo.cfg `server.N` lines on loopback: one leader, writes through
//! every member visible on all after sync, leader loss (kill -9) with service resuming, and the
//! old leader catching up after a restart.

use crate::harness::{connect_request, free_port, Client, Server, DEADLINE};
use crate::netproxy::Proxy;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;
use zk_codec::records::PathRequest;
use zk_codec::Request;

struct Ensemble {
    dirs: Vec<PathBuf>,
    cfgs: Vec<String>,
    servers: Vec<Option<Server>>,
}

impl Ensemble {
    fn start(n: usize) -> Ensemble {
        Ensemble::start_with(n, 0)
    }

    /// Waits (bounded) until member `i` reports `mode`.
    fn wait_mode(&self, i: usize, modes: &[&str]) {
        let deadline = Instant::now() + DEADLINE;
        while !modes.contains(&self.mode(i).as_str()) {
            assert!(
                Instant::now() < deadline,
                "member {} never became {modes:?}",
                i + 1
            );
            std::thread::park_timeout(std::time::Duration::from_millis(50));
        }
    }

    /// `voters` participants then `observers` observers.
    fn start_with(voters: usize, observers: usize) -> Ensemble {
        Ensemble::start_full(voters, observers, |_, _, q| q).0
    }

    /// Members dial each other through a proxy per link: link[i][j] is i → j.
    fn start_proxied(n: usize) -> (Ensemble, Vec<Vec<Option<Proxy>>>) {
        let mut links: Vec<Vec<Option<Proxy>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        let ens = {
            let links = &mut links;
            Ensemble::start_full(n, 0, move |i, j, q| {
                if i == j {
                    return q;
                }
                let p = Proxy::start(q);
                let port = p.port;
                links[i][j] = Some(p);
                port
            })
        };
        (ens.0, links)
    }

    /// `dial(i, j, quorum port of j)` is the quorum port member i lists for member j.
    fn start_full(
        voters: usize,
        observers: usize,
        mut dial: impl FnMut(usize, usize, u16) -> u16,
    ) -> (Ensemble, ()) {
        let n = voters + observers;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "rzk-it-ens-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut dirs = Vec::new();
        let mut cfgs = Vec::new();
        for (i, (_, _, c)) in ports.iter().enumerate() {
            let servers: String = ports
                .iter()
                .enumerate()
                .map(|(j, (q, e, _))| {
                    let role = if j >= voters { ":observer" } else { "" };
                    format!("server.{}=127.0.0.1:{}:{e}{role}\n", j + 1, dial(i, j, *q))
                })
                .collect();
            let dir = root.join(format!("s{}", i + 1));
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data/myid"), format!("{}\n", i + 1)).unwrap();
            cfgs.push(format!(
                "tickTime=500\ninitLimit=10\nsyncLimit=4\ndataDir={}\nclientPort={c}\n\
                 clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                dir.join("data").display()
            ));
            dirs.push(dir);
        }
        // Members wait for a leader before serving, so they must start together.
        let servers = std::thread::scope(|s| {
            let handles: Vec<_> = dirs
                .iter()
                .zip(&cfgs)
                .map(|(d, c)| s.spawn(move || Server::start_cfg(d.clone(), c)))
                .collect();
            handles
                .into_iter()
                .map(|h| Some(h.join().unwrap()))
                .collect()
        });
        (
            Ensemble {
                dirs,
                cfgs,
                servers,
            },
            (),
        )
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.servers[i].as_ref().unwrap().addr
    }

    fn mode(&self, i: usize) -> String {
        let srvr = self.servers[i].as_ref().unwrap().four("srvr");
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .unwrap_or("none")
            .to_string()
    }

    /// Waits (bounded) until exactly one live member leads; returns its index.
    fn leader(&self) -> usize {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let live: Vec<usize> = (0..self.servers.len())
                .filter(|i| self.servers[*i].is_some())
                .collect();
            let leaders: Vec<usize> = live
                .iter()
                .copied()
                .filter(|i| self.mode(*i) == "leader")
                .collect();
            if leaders.len() == 1 {
                for i in &live {
                    if *i != leaders[0] {
                        assert!(matches!(self.mode(*i).as_str(), "follower" | "observer"));
                    }
                }
                return leaders[0];
            }
            assert!(Instant::now() < deadline, "no single leader among {live:?}");
            std::thread::park_timeout(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        self.servers.clear();
        if let Some(root) = self.dirs.first().and_then(|d| d.parent()) {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn sync_and_has(c: &mut Client, path: &str) -> bool {
    c.call(Request::Sync(PathRequest { path: "/".into() }));
    c.get(path, false).0.err == 0
}

#[test]
fn three_members_serve_and_survive_leader_loss() {
    let mut ens = Ensemble::start(3);
    let leader = ens.leader();
    let mut clients: Vec<Client> = (0..3).map(|i| Client::connect(ens.addr(i))).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let (h, _) = c.create(&format!("/e{i}"), b"x", 0);
        assert_eq!(h.err, 0, "create through member {}", i + 1);
    }
    for c in clients.iter_mut() {
        for i in 0..3 {
            assert!(sync_and_has(c, &format!("/e{i}")));
        }
    }
    let mntr = ens.servers[leader].as_ref().unwrap().four("mntr");
    assert!(mntr.contains("zk_server_state\tleader\n"), "{mntr}");
    assert!(mntr.contains("zk_synced_followers\t2\n"), "{mntr}");
    assert!(mntr.contains("zk_quorum_size\t3\n"), "{mntr}");
    let f_mntr = ens.servers[(leader + 1) % 3].as_ref().unwrap().four("mntr");
    assert!(
        f_mntr.contains("zk_peer_state\tfollowing - broadcast\n"),
        "{f_mntr}"
    );
    // Ephemerals of a session connected to a follower live on every member.
    let f = (leader + 1) % 3;
    clients[f].create("/eph", b"", 1);
    assert!(sync_and_has(&mut clients[leader], "/eph"));
    // That session moves to another member with its id and password and keeps its ephemeral.
    let to = (f + 1) % 3;
    let (mut moved, r) = Client::handshake(
        ens.addr(to),
        connect_request(
            clients[f].session,
            clients[f].passwd.clone(),
            30000,
            Some(false),
        ),
    );
    assert_eq!(
        r.expect("reconnect answered").session_id,
        clients[f].session
    );
    moved.session = clients[f].session;
    assert!(sync_and_has(&mut moved, "/eph"));
    let (_, bad) = Client::handshake(
        ens.addr(to),
        connect_request(
            clients[f].session,
            bytes::Bytes::from_static(&[7; 16]),
            30000,
            Some(false),
        ),
    );
    assert_eq!(
        bad.map(|r| r.session_id),
        Some(0),
        "a wrong password is refused"
    );

    let mut old = ens.servers[leader].take().unwrap();
    old.keep_dir = true;
    old.kill9();
    drop(old);
    let started = Instant::now();
    let next = ens.leader();
    let mut c = Client::connect(ens.addr(next));
    assert_eq!(c.create("/after", b"y", 0).0.err, 0);
    eprintln!("leader loss to first commit: {:?}", started.elapsed());
    let other = (0..3).find(|i| *i != leader && *i != next).unwrap();
    let mut d = Client::connect(ens.addr(other));
    assert!(sync_and_has(&mut d, "/after"));
    assert!(
        sync_and_has(&mut d, "/eph"),
        "the follower's session keeps its ephemeral"
    );

    ens.servers[leader] = Some(Server::start_cfg(
        ens.dirs[leader].clone(),
        &ens.cfgs[leader],
    ));
    let mut back = Client::connect(ens.addr(leader));
    assert!(
        sync_and_has(&mut back, "/after"),
        "the old leader catches up"
    );
    assert_eq!(ens.mode(leader), "follower");
}

#[test]
fn observers_serve_clients_without_voting() {
    let ens = Ensemble::start_with(3, 1);
    let leader = ens.leader();
    assert_ne!(leader, 3);
    let deadline = Instant::now() + DEADLINE;
    while ens.mode(3) != "observer" {
        assert!(
            Instant::now() < deadline,
            "member 4 never became an observer"
        );
        std::thread::park_timeout(std::time::Duration::from_millis(50));
    }
    let mut o = Client::connect(ens.addr(3));
    assert_eq!(o.create("/from-observer", b"o", 0).0.err, 0);
    let mut l = Client::connect(ens.addr(leader));
    assert!(sync_and_has(&mut l, "/from-observer"));
    let mntr = ens.servers[leader].as_ref().unwrap().four("mntr");
    assert!(mntr.contains("zk_quorum_size\t3\n"), "{mntr}");
    assert!(mntr.contains("zk_synced_observers\t1\n"), "{mntr}");
}

#[test]
fn a_partitioned_leader_stops_serving_and_the_majority_goes_on() {
    let (ens, links) = Ensemble::start_proxied(3);
    let old = ens.leader();
    let mut on_old = Client::connect(ens.addr(old));
    assert_eq!(on_old.create("/before", b"1", 0).0.err, 0);
    let cut = |on: bool| {
        for (i, row) in links.iter().enumerate() {
            for (j, link) in row.iter().enumerate() {
                if (i == old) != (j == old) {
                    link.as_ref().unwrap().block(on);
                }
            }
        }
    };
    cut(true);
    // The majority elects a leader and keeps committing.
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    let deadline = Instant::now() + DEADLINE;
    let new = loop {
        if let Some(l) = others.iter().copied().find(|i| ens.mode(*i) == "leader") {
            break l;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        std::thread::park_timeout(std::time::Duration::from_millis(50));
    };
    let mut on_new = Client::connect(ens.addr(new));
    assert_eq!(on_new.create("/majority", b"2", 0).0.err, 0);
    // The cut-off leader stops serving: its clients are closed, writes there never commit.
    let lost = on_old.try_call(Request::Create(crate::harness::create_req(
        "/minority",
        b"3",
        0,
    )));
    assert!(
        lost.is_none() || lost.is_some_and(|h| h.err != 0),
        "a minority write was acknowledged"
    );
    let srvr = ens.servers[old].as_ref().unwrap().four("srvr");
    assert!(srvr.contains("not currently serving"), "{srvr}");
    // Healing: the old leader rejoins as a follower and converges.
    cut(false);
    ens.wait_mode(old, &["follower"]);
    let mut back = Client::connect(ens.addr(old));
    assert!(sync_and_has(&mut back, "/majority"));
    assert!(!sync_and_has(&mut back, "/minority"));
    let other = *others.iter().find(|i| **i != new).unwrap();
    let mut third = Client::connect(ens.addr(other));
    assert!(!sync_and_has(&mut third, "/minority"));
    assert!(sync_and_has(&mut third, "/before"));
}

/// Deterministic pseudo-random numbers for the workload (no extra dependency).
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

fn try_connect(addr: SocketAddr) -> Option<Client> {
    std::panic::catch_unwind(|| Client::connect(addr)).ok()
}

#[test]
fn histories_under_kills_and_partitions_are_linearizable() {
    use crate::linearizable::{linearizable, Kind, Op};
    use zk_codec::records::SetDataRequest;
    use zk_codec::Response;

    const KEYS: usize = 3;
    const CLIENTS: usize = 4;
    // At most 90 operations per client (a key's history stays under the checker's 128), paced
    // so that they span the nemesis' whole schedule.
    const OPS: usize = 90;
    let pace = std::time::Duration::from_millis(45);
    let (ens, links) = Ensemble::start_proxied(3);
    let addrs: Vec<SocketAddr> = (0..3).map(|i| ens.addr(i)).collect();
    let mut setup = Client::connect(addrs[0]);
    for k in 0..KEYS {
        assert_eq!(setup.create(&format!("/lin{k}"), b"0", 0).0.err, 0);
    }
    for a in &addrs {
        let mut c = Client::connect(*a);
        for k in 0..KEYS {
            assert!(sync_and_has(&mut c, &format!("/lin{k}")));
        }
    }
    let t0 = Instant::now();
    let now = move || t0.elapsed().as_micros() as u64;
    let ens = std::sync::Mutex::new(ens);
    let leader = ens.lock().unwrap().leader();
    let histories = std::thread::scope(|s| {
        // The nemesis: partition the leader away, heal, then kill -9 a member and restart it.
        let nemesis = s.spawn(|| {
            let pause = |ms| std::thread::park_timeout(std::time::Duration::from_millis(ms));
            pause(300);
            let cut = |on: bool| {
                for (i, row) in links.iter().enumerate() {
                    for (j, link) in row.iter().enumerate() {
                        if (i == leader) != (j == leader) {
                            link.as_ref().unwrap().block(on);
                        }
                    }
                }
            };
            cut(true);
            pause(2500);
            cut(false);
            pause(500);
            let victim = (leader + 1) % 3;
            let mut gone = ens.lock().unwrap().servers[victim].take().unwrap();
            gone.keep_dir = true;
            gone.kill9();
            drop(gone);
            pause(700);
            let mut e = ens.lock().unwrap();
            let (dir, cfg) = (e.dirs[victim].clone(), e.cfgs[victim].clone());
            e.servers[victim] = Some(Server::start_cfg(dir, &cfg));
        });
        let workers: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let addrs = addrs.clone();
                s.spawn(move || {
                    let mut rng = Lcg(0x5eed + t as u64);
                    let mut history: Vec<(usize, Op)> = Vec::new();
                    let mut member = t % 3;
                    let mut client = try_connect(addrs[member]);
                    let mut versions = [0i32; KEYS];
                    for n in 0..OPS {
                        std::thread::park_timeout(pace);
                        // Members refuse sessions while they have no quorum (elections run
                        // slower when the machine is loaded): go round them until one
                        // accepts, for at most 30 s.
                        let since = Instant::now();
                        while client.is_none() {
                            member = (member + 1) % 3;
                            client = try_connect(addrs[member]);
                            if client.is_none() {
                                assert!(
                                    since.elapsed() < std::time::Duration::from_secs(30),
                                    "client {t} found no member to talk to"
                                );
                                std::thread::park_timeout(std::time::Duration::from_millis(20));
                            }
                        }
                        let c = client.as_mut().unwrap();
                        let key = rng.next(KEYS as u64) as usize;
                        let path = format!("/lin{key}");
                        let value = ((t as u64 + 1) << 32) | n as u64;
                        let call = now();
                        let (kind, ok) = match rng.next(3) {
                            0 => {
                                let synced = c.try_call_full(Request::Sync(PathRequest {
                                    path: path.clone(),
                                }));
                                let got = synced.and_then(|_| {
                                    c.try_call_full(Request::GetData(
                                        zk_codec::records::PathWatchRequest {
                                            path: path.clone(),
                                            watch: false,
                                        },
                                    ))
                                });
                                match got {
                                    Some((h, Response::GetData(g))) if h.err == 0 => {
                                        let v = String::from_utf8_lossy(
                                            g.data.as_deref().unwrap_or(b""),
                                        )
                                        .parse()
                                        .unwrap_or(u64::MAX);
                                        versions[key] = g.stat.version;
                                        (Some(Kind::Read((v, g.stat.version))), true)
                                    }
                                    // A read that failed says nothing: leave it out.
                                    _ => (None, false),
                                }
                            }
                            op => {
                                let expect = if op == 1 { -1 } else { versions[key] };
                                let req = Request::SetData(SetDataRequest {
                                    path: path.clone(),
                                    data: Some(bytes::Bytes::from(value.to_string())),
                                    version: expect,
                                });
                                let reply = c.try_call_full(req);
                                let outcome = match &reply {
                                    Some((h, Response::Stat(st))) if h.err == 0 => {
                                        Some(Ok(st.stat.version))
                                    }
                                    Some((h, _)) if h.err == -103 => Some(Err(())),
                                    _ => None,
                                };
                                if let Some(Ok(v)) = outcome {
                                    versions[key] = v;
                                }
                                let kind = if op == 1 {
                                    Kind::Write {
                                        value,
                                        version: outcome.and_then(Result::ok),
                                    }
                                } else {
                                    Kind::Cas {
                                        expect,
                                        value,
                                        outcome,
                                    }
                                };
                                (Some(kind), outcome.is_some())
                            }
                        };
                        let ret = ok.then(now);
                        if let Some(kind) = kind {
                            history.push((key, Op { call, ret, kind }));
                        }
                        if !ok {
                            client = None;
                        }
                    }
                    history
                })
            })
            .collect();
        let hs: Vec<Vec<(usize, Op)>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        nemesis.join().unwrap();
        hs
    });
    let mut per_key: Vec<Vec<Op>> = vec![Vec::new(); KEYS];
    for (key, op) in histories.into_iter().flatten() {
        per_key[key].push(op);
    }
    let mut total = 0;
    for (k, ops) in per_key.iter_mut().enumerate() {
        ops.sort_by_key(|o| o.call);
        total += ops.len();
        assert!(
            linearizable(ops, (0, 0)),
            "key /lin{k} is not linearizable: {ops:#?}"
        );
    }
    let unknown = per_key.iter().flatten().filter(|o| o.ret.is_none()).count();
    eprintln!("linearizable: {total} operations on {KEYS} keys ({unknown} with unknown outcome)");
}

/// A connection on a follower pipelines its writes (the follower forwards them to the leader in
/// batches): they are applied in the order sent, and each read sent behind a write sees it.
#[test]
fn writes_pipelined_through_a_follower_keep_their_order() {
    use zk_codec::records::{CreateResponse, PathWatchRequest};
    use zk_codec::{OpCode, Response};
    let ens = Ensemble::start(3);
    let f = (ens.leader() + 1) % 3;
    let mut c = Client::connect(ens.addr(f));
    assert_eq!(c.create("/q", b"", 0).0.err, 0);
    const N: usize = 300;
    let mut sent = Vec::new();
    for i in 0..N {
        let create = Request::Create(crate::harness::create_req("/q/n-", b"x", 2));
        sent.push((OpCode::Create, c.send(&create), i));
        let read = Request::GetData(PathWatchRequest {
            path: format!("/q/n-{i:010}"),
            watch: false,
        });
        sent.push((OpCode::GetData, c.send(&read), i));
    }
    for (op, xid, i) in sent {
        let (h, r) = c.reply(op);
        assert_eq!((h.xid, h.err), (xid, 0), "reply {i} ({op:?})");
        if op == OpCode::Create {
            assert_eq!(
                r,
                Response::Create(CreateResponse {
                    path: format!("/q/n-{i:010}")
                }),
                "sequence numbers follow the send order"
            );
        }
    }
}
