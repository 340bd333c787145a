//! The operator's surface: AdminServer JSON and Prometheus /metrics on rzk, and their key sets
//! (and the deterministic four-letter-word replies) compared with real ZooKeeper 3.8.

use crate::harness::{free_port, Client, Server, DEADLINE};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

/// GET over HTTP/1.1 with Connection: close; returns (status, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            // The HTTP listeners start right after the client port; wait for the bind.
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::yield_now();
                std::thread::park_timeout(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("connect to {port}: {e}"),
        }
    };
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn json(port: u16, cmd: &str) -> serde_json::Map<String, Value> {
    let (status, body) = http_get(port, &format!("/commands/{cmd}"));
    assert_eq!(status, 200, "{cmd}: {body}");
    match serde_json::from_str(&body) {
        Ok(Value::Object(m)) => m,
        other => panic!("{cmd}: not a JSON object: {other:?} from {body}"),
    }
}

fn rzk_with_admin() -> (Server, u16) {
    let port = free_port();
    let s = Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n"
    ));
    (s, port)
}

#[test]
fn admin_server_answers_zookeeper_commands() {
    let (s, port) = rzk_with_admin();
    let mut c = Client::connect(s.addr);
    c.create("/w", b"x", 0);
    c.create("/w/e", b"y", 1);
    c.get("/w", true);
    let (status, list) = http_get(port, "/commands");
    assert_eq!(status, 200);
    assert!(
        list.contains("<a href=\"/commands/monitor\">monitor</a>"),
        "{list}"
    );
    let mntr = json(port, "mntr");
    assert_eq!(mntr["command"], "monitor");
    assert_eq!(mntr["error"], Value::Null);
    assert_eq!(mntr["ephemerals_count"], 1);
    assert_eq!(mntr["server_state"], "standalone");
    let dump = json(port, "dump");
    let eph = &dump["session_id_to_ephemeral_paths"][c.session.to_string()];
    assert_eq!(eph, &serde_json::json!(["/w/e"]));
    let w = json(port, "watches_by_path");
    assert_eq!(
        w["path_to_session_ids"]["/w"],
        serde_json::json!([c.session])
    );
    let cons = json(port, "connections");
    assert_eq!(cons["connections"][0]["session_id"], c.session);
    let unknown = json(port, "nosuch");
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    let stmk = json(port, "set_trace_mask?traceMask=12");
    assert_eq!(stmk["tracemask"], 12);
    assert_eq!(json(port, "gtmk")["tracemask"], 12);
    assert_eq!(http_get(port, "/elsewhere").0, 404);
}

/// Prometheus text: `name{labels} value` lines into (series, value).
fn scrape(port: u16) -> std::collections::BTreeMap<String, f64> {
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    let mut out = std::collections::BTreeMap::new();
    for line in body.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'),
            "bad metric name in {line}"
        );
        out.insert(series.to_string(), v);
    }
    out
}

#[test]
fn prometheus_metrics_move_with_the_tree() {
    let port = free_port();
    let s = Server::start(&format!(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={port}\n"
    ));
    let before = scrape(port);
    for name in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "approximate_data_size",
        "num_alive_connections",
        "outstanding_requests",
        "global_sessions",
        "packets_received",
        "open_file_descriptor_count",
        "snap_count",
        "bytes_received_count",
    ] {
        assert!(before.contains_key(name), "{name} missing from /metrics");
    }
    let mut c = Client::connect(s.addr);
    let mut d = Client::connect(s.addr);
    c.create("/m", b"0123456789", 0);
    c.create("/m/e", b"", 1);
    d.get("/m", true);
    d.children("/m", true);
    let after = scrape(port);
    assert_eq!(after["znode_count"], before["znode_count"] + 2.0);
    assert_eq!(after["ephemerals_count"], before["ephemerals_count"] + 1.0);
    assert_eq!(after["watch_count"], before["watch_count"] + 2.0);
    assert_eq!(after["global_sessions"], before["global_sessions"] + 2.0);
    assert_eq!(
        after["num_alive_connections"],
        before["num_alive_connections"] + 2.0
    );
    assert!(after["approximate_data_size"] > before["approximate_data_size"]);
    assert!(after["updatelatency_count"] >= 2.0, "{after:?}");
    assert!(after["readlatency_count"] >= 2.0);
    assert!(after["fsynctime_count"] >= 1.0);
    c.set("/m", b"1", -1);
    d.event();
    let fired = scrape(port);
    assert!(fired["node_changed_watch_count_count"] >= 1.0);
    assert_eq!(fired["watch_count"], after["watch_count"] - 1.0);
}

/// A real ZooKeeper 3.8 with its AdminServer, stopped by PID on drop.
struct RealZk {
    dir: PathBuf,
    port: u16,
    admin: u16,
}

impl RealZk {
    fn start() -> RealZk {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("rzk-it-zk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let admin = free_port();
        let out = Command::new(root.join("scripts/zk-start"))
            .arg(&dir)
            .env(
                "ZK_EXTRA_CFG",
                format!("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}"),
            )
            .output()
            .expect("scripts/zk-start (run scripts/install-test-deps for ZooKeeper 3.8)");
        assert!(
            out.status.success(),
            "real ZooKeeper did not start (scripts/install-test-deps installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        RealZk { dir, port, admin }
    }
}

impl Drop for RealZk {
    fn drop(&mut self) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let _ = Command::new(root.join("scripts/zk-stop"))
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn four(port: u16, word: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(word.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `key=value`, `key: value` or `key\tvalue` lines → their keys.
fn keys(text: &str, sep: char) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split_once(sep).map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// Puts the same state in a server: a session with an ephemeral and a watch.
fn populate(port: u16) -> Client {
    let mut c = Client::connect(format!("127.0.0.1:{port}").parse().unwrap());
    c.create("/w", b"x", 0);
    c.create("/w/e", b"y", 1);
    c.get("/w", true);
    c
}

fn json_keys(m: &serde_json::Map<String, Value>) -> BTreeSet<String> {
    m.keys().cloned().collect()
}

#[test]
fn four_letter_words_and_admin_keys_match_real_zookeeper() {
    let zk = RealZk::start();
    let (rzk, rzk_admin) = rzk_with_admin();
    let rzk_port = rzk.addr.port();
    let _a = populate(zk.port);
    let _b = populate(rzk_port);

    for word in ["ruok", "isro", "gtmk"] {
        assert_eq!(four(rzk_port, word), four(zk.port, word), "{word}");
    }
    let (zs, rs) = (four(zk.port, "srvr"), four(rzk_port, "srvr"));
    assert_eq!(keys(&rs, ':'), keys(&zs, ':'), "srvr keys\n{zs}\n{rs}");
    let tail = |t: &str| {
        t.lines()
            .rev()
            .take(2)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(tail(&rs), tail(&zs), "srvr mode and node count");
    assert_eq!(
        keys(&four(rzk_port, "conf"), '='),
        keys(&four(zk.port, "conf"), '=')
    );
    assert_eq!(
        keys(&four(rzk_port, "envi"), '='),
        keys(&four(zk.port, "envi"), '=')
    );
    assert_eq!(four(rzk_port, "wchs"), four(zk.port, "wchs"));
    for word in ["wchp", "dirs", "crst", "srst"] {
        let (z, r) = (four(zk.port, word), four(rzk_port, word));
        let shape = |t: &str| {
            t.lines()
                .map(|l| l.chars().take(3).collect::<String>())
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&r), shape(&z), "{word}\n{z}\n{r}");
    }
    let zd = four(zk.port, "dump");
    let rd = four(rzk_port, "dump");
    let heads = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('\t') && !l.starts_with("0x") && !l.contains("expire at"))
            .map(|l| l.split('(').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(heads(&rd), heads(&zd), "dump\n{zd}\n{rd}");
    // mntr: every key ZooKeeper prints, rzk prints (per-namespace summaries aside).
    let zm = keys(&four(zk.port, "mntr"), '\t');
    let rm = keys(&four(rzk_port, "mntr"), '\t');
    let missing: Vec<_> = zm
        .iter()
        .filter(|k| !k.contains("_per_namespace") && !rm.contains(*k))
        .collect();
    assert!(missing.is_empty(), "mntr keys missing: {missing:?}");

    let (zs, zl) = http_get(zk.admin, "/commands");
    let (rs, rl) = http_get(rzk_admin, "/commands");
    assert_eq!((rs, rl.trim()), (zs, zl.trim()));
    for cmd in [
        "configuration",
        "connections",
        "environment",
        "monitor",
        "ruok",
        "server_stats",
        "stat_reset",
        "watches",
        "watches_by_path",
        "watch_summary",
        "dump",
        "is_read_only",
        "last_snapshot",
        "leader",
        "voting_view",
        "zabstate",
        "stats",
        "dirs",
        "get_trace_mask",
        "hash",
        "initial_configuration",
        "observers",
        "connection_stat_reset",
        "nosuch",
    ] {
        let z = json(zk.admin, cmd);
        let r = json(rzk_admin, cmd);
        let (mut zk_keys, mut rzk_keys) = (json_keys(&z), json_keys(&r));
        if cmd == "monitor" {
            zk_keys.retain(|k| !k.contains("_per_namespace"));
            rzk_keys.retain(|k| !k.contains("_per_namespace"));
        }
        assert_eq!(rzk_keys, zk_keys, "{cmd}: {z:?}\n{r:?}");
        for nested in ["server_stats", "client_response"] {
            if let (Some(Value::Object(a)), Some(Value::Object(b))) = (z.get(nested), r.get(nested))
            {
                assert_eq!(json_keys(b), json_keys(a), "{cmd}.{nested}");
            }
        }
        for list in ["connections"] {
            if let (Some(Value::Array(a)), Some(Value::Array(b))) = (z.get(list), r.get(list)) {
                if let (Some(Value::Object(a)), Some(Value::Object(b))) = (a.first(), b.first()) {
                    assert_eq!(json_keys(b), json_keys(a), "{cmd}.{list}[0]");
                }
            }
        }
    }
}

/// rzk with `cfg` as its zoo.cfg; expects an exit instead of serving: (code, stderr).
fn run_bad_config(cfg: &str) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("rzk-it-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("zoo-{}.cfg", cfg.len()));
    std::fs::write(
        &path,
        format!("dataDir={}\n{cfg}\n", dir.join("data").display()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rzk"))
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_config_is_one_line_naming_the_key() {
    for (cfg, key) in [
        ("tickTime=fast", "tickTime"),
        ("clientPort=99999", "clientPort"),
        (
            "minSessionTimeout=50000\nmaxSessionTimeout=4000",
            "minSessionTimeout",
        ),
        ("maxClientCnxns=-3", "maxClientCnxns"),
        ("admin.serverPort=http", "admin.serverPort"),
        ("forceSync=perhaps", "forceSync"),
    ] {
        let (code, stderr) = run_bad_config(cfg);
        assert!(matches!(code, Some(c) if c != 0), "{cfg}: exit {code:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{cfg}: {stderr}");
        assert!(lines[0].contains(key), "{cfg}: {stderr}");
    }
    let (code, stderr) = Command::new(env!("CARGO_BIN_EXE_rzk"))
        .args(["--config", "/nonexistent/zoo.cfg"])
        .output()
        .map(|o| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        })
        .unwrap();
    assert!(matches!(code, Some(c) if c != 0));
    assert!(stderr.contains("/nonexistent/zoo.cfg"), "{stderr}");
}
