use crate::harness::*;

#[test]
fn ruok_isro_and_srvr_layout() {
    let s = Server::start("");
    assert_eq!(s.four("ruok"), "imok");
    assert_eq!(s.four("isro"), "rw");
    let srvr = s.four("srvr");
    let keys: Vec<&str> = srvr.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "Zookeeper version",
            "Latency min/avg/max",
            "Received",
            "Sent",
            "Connections",
            "Outstanding",
            "Zxid",
            "Mode",
            "Node count"
        ]
    );
    assert!(srvr.starts_with("Zookeeper version: 3.8.0-"), "{srvr}");
    assert!(
        srvr.contains("Mode: standalone\n") && srvr.contains("Node count: 5\n"),
        "{srvr}"
    );
}

#[test]
fn stat_and_mntr_report_live_figures() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/x", b"abc", 0);
    let stat = s.four("stat");
    assert!(stat.contains("Clients:\n /127.0.0.1:"), "{stat}");
    assert!(stat.contains("Node count: 6"), "{stat}");
    let mntr = s.four("mntr");
    assert!(mntr.contains("zk_znode_count\t6\n"), "{mntr}");
    assert!(mntr.contains("zk_server_state\tstandalone\n"), "{mntr}");
    assert!(mntr.contains("zk_num_alive_connections\t1\n"), "{mntr}");
}

#[test]
fn whitelist_refuses_other_words() {
    let s = Server::start("4lw.commands.whitelist=ruok");
    assert_eq!(s.four("ruok"), "imok");
    assert_eq!(
        s.four("mntr"),
        "mntr is not executed because it is not in the whitelist.\n"
    );
    assert!(
        s.four("srvr").contains("Mode: standalone"),
        "srvr is always allowed"
    );
}
