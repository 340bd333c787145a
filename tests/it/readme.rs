//! The nc and curl examples in README.md, run as written against a server on this test's
//! ports (2181, 8080 and 7000 become the test server's).

use crate::harness::{free_port, Server};
use std::process::Command;

#[test]
fn readme_examples_work_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut in_bash = false;
    let mut examples = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_bash = line == "```bash";
            continue;
        }
        let cmd = line.split(" # ").next().unwrap().trim();
        if in_bash && (cmd.starts_with("echo ") || cmd.starts_with("curl ")) {
            examples.push(cmd.to_string());
        }
    }
    assert!(examples.len() >= 4, "README examples: {examples:?}");
    let (admin, metrics) = (free_port(), free_port());
    let s = Server::start(&format!(
        "4lw.commands.whitelist=srvr\nadmin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={metrics}\n"
    ));
    let port = s.addr.port();
    for ex in examples {
        let cmd = ex
            .replace("127.0.0.1 2181", &format!("127.0.0.1 {port}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{admin}"))
            .replace("127.0.0.1:7000", &format!("127.0.0.1:{metrics}"));
        let out = Command::new("timeout")
            .args(["10", "sh", "-c", &cmd])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{ex}: {:?} {text}", out.status);
        assert!(!text.trim().is_empty(), "{ex}: no output");
        assert!(!text.contains("not executed"), "{ex}: {text}");
    }
}
