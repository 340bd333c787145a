//! What each workload sends: the node layout under [`ROOT`], the requests created before the
//! measured phase (setup) and removed after it (cleanup), and a per-session generator of the
//! measured requests.
//!
//! Layout: `/rzk-bench/k{i}` keys (set, get, exists, mix, multi, load), `/rzk-bench/w/c{i}` the
//! wide node's children, `/rzk-bench/c/s{session}-{n}` unique creates, `/rzk-bench/q/n-{seq}`
//! sequential creates, `/rzk-bench/e/s{session}-{n}` ephemeral churn, `/rzk-bench/watch`.

use bytes::Bytes;
use clap::ValueEnum;
use zk_codec::records::{Acl, CreateRequest, DeleteRequest, PathWatchRequest, SetDataRequest};
use zk_codec::{MultiOp, MultiRequest, Request};

/// The parent of every node the bench creates.
pub const ROOT: &str = "/rzk-bench";
/// The wide node listed by `children`.
pub const WIDE: &str = "/rzk-bench/w";
/// The node watched by `watch`.
pub const WATCHED: &str = "/rzk-bench/watch";

/// A workload, named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// create with unique keys.
    Create,
    /// create with the sequential flag under one parent.
    CreateSeq,
    /// setData on random keys.
    Set,
    /// getData on random keys.
    Get,
    /// exists on random keys.
    Exists,
    /// getChildren on a node with --width children.
    Children,
    /// getData and setData by --mix READ:WRITE.
    Mix,
    /// multi of three setData on random keys.
    Multi,
    /// create then delete an ephemeral node (each counts as an op).
    Ephemeral,
    /// --sessions watchers on one node, one writer; latency from setData send to each event.
    Watch,
    /// open a session, then close it; latency is the handshake.
    Connect,
    /// only create --keys nodes (the setup of get/set), keep them, report the create rate.
    Load,
    /// retry (connect + getData of key 0) until it succeeds or --duration passes; the latency
    /// is the wait (restart-to-serving time).
    Probe,
    /// retry (connect + setData of `/`) round the connect string until a write commits or
    /// --duration passes; the latency is the wait (leader-loss-to-first-commit time).
    ProbeWrite,
    /// no server: append --value-size bytes to a file in --dir and fdatasync it, one at a time
    /// (the disk's floor under a write, measured the way rzk's log writes).
    Fsync,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// Whether the workload needs the `k{i}` keys to exist before it runs.
    pub fn needs_keys(self) -> bool {
        matches!(
            self,
            Workload::Set | Workload::Get | Workload::Exists | Workload::Mix | Workload::Multi
        )
    }

    /// The parents created in setup (after [`ROOT`]) and removed last in cleanup.
    pub fn parents(self) -> &'static [&'static str] {
        match self {
            Workload::Create => &["/rzk-bench/c"],
            Workload::CreateSeq => &["/rzk-bench/q"],
            Workload::Ephemeral => &["/rzk-bench/e"],
            Workload::Children => &[WIDE],
            _ => &[],
        }
    }
}

/// A read:write ratio, `90:10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Reads out of every `read + write` requests.
    pub read: u32,
    /// Writes out of every `read + write` requests.
    pub write: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Mix, String> {
        let (r, w) = s
            .split_once(':')
            .ok_or_else(|| format!("expected READ:WRITE, e.g. 90:10, got {s:?}"))?;
        let read: u32 = r
            .trim()
            .parse()
            .map_err(|_| format!("bad read share {r:?}"))?;
        let write: u32 = w
            .trim()
            .parse()
            .map_err(|_| format!("bad write share {w:?}"))?;
        if read.checked_add(write).unwrap_or(0) == 0 {
            return Err("READ + WRITE must be positive".into());
        }
        Ok(Mix { read, write })
    }
}

/// A small, fast, deterministic random generator (xorshift64*); quality is plenty for key picks.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded by `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The path of key `i`.
pub fn key(i: u64) -> String {
    format!("{ROOT}/k{i}")
}

/// A persistent create with an open ACL.
pub fn create(path: String, data: Bytes, flags: i32) -> Request {
    Request::Create(CreateRequest {
        path,
        data: Some(data),
        acl: Acl::open_unsafe(),
        flags,
    })
}

/// An unconditional delete.
pub fn delete(path: String) -> Request {
    Request::Delete(DeleteRequest { path, version: -1 })
}

/// Produces a session's measured requests.
pub trait OpGen: Send {
    /// The next request, or None when this session has no more to send.
    fn next(&mut self) -> Option<Request>;
}

/// The generator for the request/reply workloads (all but watch and connect).
pub struct WorkGen {
    kind: Workload,
    session: usize,
    /// Requests produced so far.
    pub sent: u64,
    keys: u64,
    value: Bytes,
    mix: Mix,
    rng: Rng,
}

impl WorkGen {
    /// A generator for session number `session`.
    pub fn new(kind: Workload, session: usize, keys: u64, value: Bytes, mix: Mix) -> WorkGen {
        WorkGen {
            kind,
            session,
            sent: 0,
            keys: keys.max(1),
            value,
            mix,
            rng: Rng::new(session as u64 + 1),
        }
    }

    fn random_key(&mut self) -> String {
        key(self.rng.below(self.keys))
    }

    fn set(&mut self) -> Request {
        Request::SetData(SetDataRequest {
            path: self.random_key(),
            data: Some(self.value.clone()),
            version: -1,
        })
    }

    fn read(path: String) -> PathWatchRequest {
        PathWatchRequest { path, watch: false }
    }
}

impl OpGen for WorkGen {
    fn next(&mut self) -> Option<Request> {
        let n = self.sent;
        self.sent += 1;
        let s = self.session;
        Some(match self.kind {
            Workload::Create => create(format!("{ROOT}/c/s{s}-{n}"), self.value.clone(), 0),
            Workload::CreateSeq => create(format!("{ROOT}/q/n-"), self.value.clone(), 2),
            Workload::Set => self.set(),
            Workload::Get => Request::GetData(Self::read(self.random_key())),
            Workload::Exists => Request::Exists(Self::read(self.random_key())),
            Workload::Children => Request::GetChildren(Self::read(WIDE.to_string())),
            Workload::Mix => {
                let total = u64::from(self.mix.read) + u64::from(self.mix.write);
                if self.rng.below(total) < u64::from(self.mix.read) {
                    Request::GetData(Self::read(self.random_key()))
                } else {
                    self.set()
                }
            }
            Workload::Multi => {
                let ops = (0..3)
                    .map(|_| match self.set() {
                        Request::SetData(r) => MultiOp::SetData(r),
                        _ => unreachable!("set() builds a SetData"),
                    })
                    .collect();
                Request::Multi(MultiRequest { ops })
            }
            Workload::Ephemeral => {
                let path = format!("{ROOT}/e/s{s}-{}", n / 2);
                if n.is_multiple_of(2) {
                    create(path, self.value.clone(), 1)
                } else {
                    delete(path)
                }
            }
            Workload::Watch
            | Workload::Connect
            | Workload::Load
            | Workload::Probe
            | Workload::ProbeWrite
            | Workload::Fsync => return None,
        })
    }
}

/// Hands out `create` requests for `count` paths (`path(i)`, i in `0..count`) across sessions
/// through a shared counter: setup, cleanup (as deletes) and the `load` workload.
pub struct Batch {
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
    count: u64,
    make: std::sync::Arc<dyn Fn(u64) -> Request + Send + Sync>,
}

impl Batch {
    /// A generator family: clone the result once per session.
    pub fn new(count: u64, make: impl Fn(u64) -> Request + Send + Sync + 'static) -> Batch {
        Batch {
            next: Default::default(),
            count,
            make: std::sync::Arc::new(make),
        }
    }

    /// Another handle on the same shared counter.
    pub fn share(&self) -> Batch {
        Batch {
            next: self.next.clone(),
            count: self.count,
            make: self.make.clone(),
        }
    }
}

impl OpGen for Batch {
    fn next(&mut self) -> Option<Request> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (i < self.count).then(|| (self.make)(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_read_write_shares() {
        assert_eq!(
            "90:10".parse::<Mix>(),
            Ok(Mix {
                read: 90,
                write: 10
            })
        );
        assert_eq!("0:1".parse::<Mix>(), Ok(Mix { read: 0, write: 1 }));
        assert!("90".parse::<Mix>().is_err());
        assert!("a:b".parse::<Mix>().is_err());
        assert!("0:0".parse::<Mix>().is_err());
        assert!("-1:5".parse::<Mix>().is_err());
    }

    #[test]
    fn mix_generator_keeps_roughly_the_ratio() {
        let mut g = WorkGen::new(
            Workload::Mix,
            0,
            100,
            Bytes::new(),
            "90:10".parse().unwrap(),
        );
        let reads = (0..10_000)
            .filter(|_| matches!(g.next(), Some(Request::GetData(_))))
            .count();
        assert!((8_700..9_300).contains(&reads), "{reads}");
    }

    #[test]
    fn ephemeral_churn_alternates_create_and_delete_of_one_path() {
        let mut g = WorkGen::new(
            Workload::Ephemeral,
            3,
            1,
            Bytes::new(),
            Mix { read: 1, write: 0 },
        );
        match (g.next(), g.next()) {
            (Some(Request::Create(c)), Some(Request::Delete(d))) => {
                assert_eq!(c.path, "/rzk-bench/e/s3-0");
                assert_eq!(c.flags, 1);
                assert_eq!(d.path, c.path);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batch_hands_out_each_index_once_across_sessions() {
        let b = Batch::new(5, |i| delete(key(i)));
        let mut a = b.share();
        let mut c = b.share();
        let mut n = 0;
        while a.next().is_some() | c.next().is_some() {
            n += 1;
            assert!(n < 10);
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn workload_names_match_the_command_line() {
        assert_eq!(Workload::CreateSeq.name(), "create-seq");
        assert_eq!(Workload::from_str("watch", true), Ok(Workload::Watch));
    }
}
