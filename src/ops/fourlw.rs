//! Four-letter words on the client port (zk-protocol-reference.md §8): the same text layouts
//! as ZooKeeper 3.8, the whitelist rule, and the connection closed after the answer.

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
    let text = if !shared.config.allows_word(name) {
        format!("{name} is not executed because it is not in the whitelist.\n")
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

/// Java's Double.toString for the small positive values we print.
fn java_double(x: f64) -> String {
    let s = format!("{}", (x * 10000.0).round() / 10000.0);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
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
    let _ = writeln!(out, "Mode: standalone");
    let _ = writeln!(out, "Node count: {}", tree.node_count());
}

fn render(shared: &Shared, word: W, peer: Option<std::net::SocketAddr>) -> String {
    let mut out = String::new();
    match word {
        W::Ruok => out.push_str("imok"),
        W::Isro => out.push_str("rw"),
        W::Gtmk => out.push_str(&shared.stats.trace_mask.load(Ordering::Relaxed).to_string()),
        W::Srvr => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}, {BUILT}");
            srvr_body(shared, &mut out);
        }
        W::Stat => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}, {BUILT}");
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
    let (min, avg, max) = shared.stats.latency();
    let (_, _, _, watches) = shared.lock_watches().counts();
    let tree = shared.read_tree();
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "zk_{k}\t{v}");
    };
    kv("version", format!("{VERSION}, {BUILT}"));
    kv("server_state", "standalone".into());
    kv("avg_latency", java_double(avg));
    kv("max_latency", max.to_string());
    kv("min_latency", min.to_string());
    kv(
        "packets_received",
        shared
            .stats
            .packets_received
            .load(Ordering::Relaxed)
            .to_string(),
    );
    kv(
        "packets_sent",
        shared
            .stats
            .packets_sent
            .load(Ordering::Relaxed)
            .to_string(),
    );
    kv(
        "num_alive_connections",
        shared.lock_conns().len().to_string(),
    );
    kv("outstanding_requests", shared.pending.len().to_string());
    kv("uptime", shared.started.elapsed().as_millis().to_string());
    kv("znode_count", tree.node_count().to_string());
    kv("watch_count", watches.to_string());
    kv("ephemerals_count", tree.ephemeral_count().to_string());
    kv(
        "approximate_data_size",
        tree.approximate_data_size().to_string(),
    );
    kv("open_file_descriptor_count", open_fds().to_string());
    kv("max_file_descriptor_count", max_fds().to_string());
    kv("global_sessions", shared.sessions.len().to_string());
    kv("local_sessions", "0".into());
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
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_default();
    out.push_str("Environment:\n");
    let lines = [
        ("zookeeper.version", format!("{VERSION}, {BUILT}")),
        ("host.name", host.trim().to_string()),
        ("java.version", "rzk".into()),
        ("java.vendor", "rzk".into()),
        ("java.home", String::new()),
        ("java.class.path", String::new()),
        ("java.library.path", String::new()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".into()),
        ("os.name", "Linux".into()),
        ("os.arch", std::env::consts::ARCH.into()),
        ("os.version", String::new()),
        ("user.name", user),
        ("user.home", home),
        ("user.dir", cwd),
    ];
    for (k, v) in lines {
        let _ = writeln!(out, "{k}={v}");
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
        let _ = writeln!(out, "{} expire at {}:", ids.len(), at);
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
}

fn dir_size(p: &std::path::Path) -> u64 {
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

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn max_fds() -> u64 {
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
}
