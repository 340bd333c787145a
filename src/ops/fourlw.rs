//! Four-letter words on the client port (zk-protocol-reference.md §8): the same text layouts
//! as ZooKeeper 3.8, the whitelist rule, and the connection closed after the answer.

use super::java_double;
use crate::shared::Shared;
use bytes::BytesMut;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use zk_codec::fourlw::FourLetterWord as W;

/// The version rzk reports: the ZooKeeper line it is compatible with, then its own.
pub const VERSION: &str = concat!("3.8.0-rzk-", env!("CARGO_PKG_VERSION"));
const BUILT: &str = "built on 2026-11-23 00:00 UTC";

/// `3.8.0-rzk-x.y.z, built on …` as srvr, mntr and envi print it.
pub fn version_line() -> String {
    format!("{VERSION}, {BUILT}")
}

/// Answers one word and closes the connection. `buf` holds the bytes read so far.
pub async fn serve(
    shared: &Arc<Shared>,
    word: W,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    mut buf: BytesMut,
) {
    let peer = rd.peer_addr().ok();
    let name = word.as_str();
    let serving = !shared.log().is_ensemble()
        || shared
            .log()
            .has_quorum(crate::ensemble::quorum_grace_ms(shared));
    let text = if !shared.config.allows_word(name) {
        format!("{name} is not executed because it is not in the whitelist.\n")
    } else if !serving && !matches!(word, W::Ruok | W::Envi | W::Isro | W::Gtmk | W::Stmk) {
        let mut t = "This ZooKeeper instance is not currently serving requests".to_string();
        if word != W::Hash {
            t.push('\n');
        }
        t
    } else if word == W::Stmk {
        while buf.len() < 12 {
            match tokio::time::timeout(
                Duration::from_secs(10),
                tokio::io::AsyncReadExt::read_buf(&mut rd, &mut buf),
            )
            .await
            {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
        let mask = i64::from_be_bytes([
            buf[4], buf[5], buf[6], buf[7], buf[8], buf[9], buf[10], buf[11],
        ]);
        shared.stats.trace_mask.store(mask, Ordering::Relaxed);
        mask.to_string()
    } else {
        render(shared, word, peer)
    };
    tracing::debug!(word = name, peer = ?peer, "four-letter word");
    let _ = wr.write_all(text.as_bytes()).await;
    let _ = wr.shutdown().await;
    // Give the client a moment to read before the socket is dropped.
    let _ = tokio::time::timeout(
        Duration::from_millis(100),
        tokio::io::AsyncReadExt::read(&mut rd, &mut [0u8; 64]),
    )
    .await;
}

fn srvr_body(shared: &Shared, out: &mut String) {
    let (min, avg, max) = shared.stats.latency();
    let tree = shared.read_tree();
    let _ = writeln!(out, "Latency min/avg/max: {min}/{}/{max}", java_double(avg));
    let _ = writeln!(
        out,
        "Received: {}",
        shared.stats.packets_received.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "Sent: {}",
        shared.stats.packets_sent.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "Connections: {}", shared.lock_conns().len() + 1);
    let _ = writeln!(out, "Outstanding: {}", shared.pending.len());
    let _ = writeln!(out, "Zxid: 0x{:x}", tree.last_zxid());
    let _ = writeln!(out, "Mode: {}", super::report::server_state(shared));
    let _ = writeln!(out, "Node count: {}", tree.node_count());
}

fn render(shared: &Shared, word: W, peer: Option<std::net::SocketAddr>) -> String {
    let mut out = String::new();
    match word {
        W::Ruok => out.push_str("imok"),
        W::Isro => out.push_str("rw"),
        W::Gtmk => out.push_str(&shared.stats.trace_mask.load(Ordering::Relaxed).to_string()),
        W::Srvr => {
            let _ = writeln!(out, "Zookeeper version: {}", version_line());
            srvr_body(shared, &mut out);
        }
        W::Stat => {
            let _ = writeln!(out, "Zookeeper version: {}", version_line());
            out.push_str("Clients:\n");
            for c in sorted_conns(shared) {
                let _ = writeln!(
                    out,
                    " /{}[1](queued=0,recved={},sent={})",
                    c.peer,
                    c.stats.received.load(Ordering::Relaxed),
                    c.stats.sent.load(Ordering::Relaxed)
                );
            }
            if let Some(p) = peer {
                let _ = writeln!(out, " /{p}[0](queued=0,recved=1,sent=0)");
            }
            out.push('\n');
            srvr_body(shared, &mut out);
        }
        W::Cons => {
            for c in sorted_conns(shared) {
                cons_line(&mut out, &c);
            }
            if let Some(p) = peer {
                let _ = writeln!(out, " /{p}[0](queued=0,recved=1,sent=0)");
            }
            out.push('\n');
        }
        W::Crst => {
            for c in sorted_conns(shared) {
                c.stats.reset();
            }
            out.push_str("Connection stats reset.\n");
        }
        W::Srst => {
            shared.stats.reset();
            out.push_str("Server stats reset.\n");
        }
        W::Mntr => mntr(shared, &mut out),
        W::Conf => conf(shared, &mut out),
        W::Envi => envi(&mut out),
        W::Wchs => {
            let (conns, paths, _, total) = shared.lock_watches().counts();
            let _ = write!(
                out,
                "{conns} connections watching {paths} paths\nTotal watches:{total}\n"
            );
        }
        W::Wchc => {
            let by_path = shared.lock_watches().data_watches();
            let mut by_conn: std::collections::BTreeMap<i64, Vec<String>> =
                std::collections::BTreeMap::new();
            let conns = shared.lock_conns();
            for (path, ids) in by_path {
                for id in ids {
                    let session = conns.get(&id).map_or(0, |c| c.session());
                    by_conn.entry(session).or_default().push(path.clone());
                }
            }
            for (session, paths) in by_conn {
                let _ = writeln!(out, "0x{session:x}");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
            out.push('\n');
        }
        W::Wchp => {
            let by_path = shared.lock_watches().data_watches();
            let conns = shared.lock_conns();
            for (path, ids) in by_path {
                let _ = writeln!(out, "{path}");
                for id in ids {
                    let _ = writeln!(out, "\t0x{:x}", conns.get(&id).map_or(0, |c| c.session()));
                }
            }
            out.push('\n');
        }
        W::Dump => dump(shared, &mut out),
        W::Dirs => {
            let size = |p: &std::path::Path| dir_size(&p.join("version-2"));
            let _ = writeln!(out, "datadir_size: {}", size(&shared.config.data_dir));
            let _ = writeln!(out, "logdir_size: {}", size(&shared.config.data_log_dir));
        }
        W::Hash | W::Stmk => {}
    }
    out
}

fn sorted_conns(shared: &Shared) -> Vec<Arc<crate::sink::Sink>> {
    let mut v: Vec<_> = shared.lock_conns().values().cloned().collect();
    v.sort_by_key(|c| c.id);
    v
}

fn cons_line(out: &mut String, c: &crate::sink::Sink) {
    let s = &c.stats;
    let _ = write!(
        out,
        " /{}[1](queued=0,recved={},sent={}",
        c.peer,
        s.received.load(Ordering::Relaxed),
        s.sent.load(Ordering::Relaxed)
    );
    if c.session() != 0 {
        let count = s.count.load(Ordering::Relaxed).max(1);
        let lop = s.last_op.lock().map(|l| *l).unwrap_or("NA");
        let _ = write!(
            out,
            ",sid=0x{:x},lop={lop},est={},to={},",
            c.session(),
            s.established_ms.load(Ordering::Relaxed),
            0
        );
        let lcxid = s.last_cxid.load(Ordering::Relaxed);
        if lcxid >= 0 {
            let _ = write!(out, "lcxid=0x{lcxid:x},");
        }
        let _ = write!(
            out,
            "lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            s.last_zxid.load(Ordering::Relaxed),
            s.last_response_ms.load(Ordering::Relaxed),
            s.last_latency.load(Ordering::Relaxed),
            s.min_latency.load(Ordering::Relaxed),
            s.total_latency.load(Ordering::Relaxed) / count,
            s.max_latency.load(Ordering::Relaxed)
        );
    }
    out.push_str(")\n");
}

fn mntr(shared: &Shared, out: &mut String) {
    for (k, v) in super::report::monitor(shared) {
        let _ = writeln!(out, "zk_{k}\t{v}");
    }
}

fn conf(shared: &Shared, out: &mut String) {
    let c = &shared.config;
    let dir = |p: &std::path::Path| p.join("version-2").display().to_string();
    let _ = writeln!(out, "clientPort={}", c.client_port);
    let _ = writeln!(out, "secureClientPort=-1");
    let _ = writeln!(out, "dataDir={}", dir(&c.data_dir));
    let _ = writeln!(
        out,
        "dataDirSize={}",
        dir_size(&c.data_dir.join("version-2"))
    );
    let _ = writeln!(out, "dataLogDir={}", dir(&c.data_log_dir));
    let _ = writeln!(
        out,
        "dataLogSize={}",
        dir_size(&c.data_log_dir.join("version-2"))
    );
    let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(out, "clientPortListenBacklog=-1");
    let _ = writeln!(out, "serverId=0");
}

fn envi(out: &mut String) {
    out.push_str("Environment:\n");
    for (k, v) in environment() {
        let _ = writeln!(out, "{k}={v}");
    }
}

/// envi's keys and values. The java.* keys name rzk; os.memory.* come from /proc (resident
/// and available memory) since there is no JVM heap.
pub fn environment() -> Vec<(&'static str, String)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let host = read("/etc/hostname");
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let kb = |file: &str, key: &str| -> u64 {
        read(file)
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    let rss_mb = kb("/proc/self/status", "VmRSS:") / 1024;
    let avail_mb = kb("/proc/meminfo", "MemAvailable:") / 1024;
    let total_mb = kb("/proc/meminfo", "MemTotal:") / 1024;
    vec![
        ("zookeeper.version", version_line()),
        ("host.name", host.trim().to_string()),
        ("java.version", "rzk".into()),
        ("java.vendor", "rzk".into()),
        ("java.home", String::new()),
        ("java.class.path", exe),
        ("java.library.path", String::new()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".into()),
        ("os.name", "Linux".into()),
        ("os.arch", java_arch().into()),
        (
            "os.version",
            read("/proc/sys/kernel/osrelease").trim().to_string(),
        ),
        (
            "user.name",
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
        ),
        ("user.home", std::env::var("HOME").unwrap_or_default()),
        ("user.dir", cwd),
        ("os.memory.free", format!("{avail_mb}MB")),
        ("os.memory.max", format!("{total_mb}MB")),
        ("os.memory.total", format!("{rss_mb}MB")),
    ]
}

/// The JVM's os.arch names.
fn java_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "aarch64",
        other => other,
    }
}

fn dump(shared: &Shared, out: &mut String) {
    let sessions = shared.sessions.snapshot();
    let mut buckets: std::collections::BTreeMap<i64, Vec<i64>> = std::collections::BTreeMap::new();
    for (id, _, at) in &sessions {
        buckets.entry(*at).or_default().push(*id);
    }
    out.push_str("SessionTracker dump:\n");
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        buckets.len(),
        sessions.len()
    );
    for (at, ids) in &buckets {
        let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(*at));
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    let tree = shared.read_tree();
    let mut eph: Vec<_> = tree.ephemerals_by_session().collect();
    eph.sort_by_key(|(s, _)| *s);
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", eph.len());
    for (s, paths) in eph {
        let _ = writeln!(out, "0x{s:x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    drop(tree);
    // The NIO factory's connection expiry sets: a connection expires one session timeout
    // after its last packet (sessionless ones after nio.sessionlessCnxnTimeout, 10 s).
    let timeouts: std::collections::HashMap<i64, i32> =
        sessions.iter().map(|(id, to, _)| (*id, *to)).collect();
    let tick = i64::from(shared.config.tick_time_ms.max(1));
    let mut sets: std::collections::BTreeMap<i64, Vec<String>> = std::collections::BTreeMap::new();
    for c in sorted_conns(shared) {
        let last = c
            .stats
            .last_response_ms
            .load(Ordering::Relaxed)
            .max(c.stats.established_ms.load(Ordering::Relaxed));
        let to = timeouts.get(&c.session()).map_or(10_000, |t| i64::from(*t));
        let at = (last + to) / tick * tick + tick;
        sets.entry(at).or_default().push(format!(
            "\tip: /{} sessionId: 0x{:x}",
            c.peer,
            c.session()
        ));
    }
    out.push_str("Connections dump:\n");
    let n: usize = sets.values().map(Vec::len).sum();
    let _ = writeln!(out, "Connections Sets ({})/({n}):", sets.len());
    for (at, lines) in sets {
        let _ = writeln!(out, "{} expire at {}:", lines.len(), java_date(at));
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
}

/// Java's Date.toString in UTC: `Mon Nov 23 05:40:44 UTC 2026`.
pub fn java_date(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Recursive size of a directory's files.
pub fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The descriptor limit of this process.
pub fn max_fds() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(1.182_849), "1.1828");
    }

    #[test]
    fn dates_print_like_java() {
        assert_eq!(java_date(1_795_412_444_000), "Mon Nov 23 05:40:44 UTC 2026");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
