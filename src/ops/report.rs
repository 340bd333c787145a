//! The figures every report shares (mntr, the AdminServer `monitor` command and the Prometheus
//! gauges), read from live state when the report is made.

use super::metrics::{self, Counter};
use super::{fourlw, java_double};
use crate::shared::Shared;
use std::fmt;
use std::sync::atomic::Ordering;

/// A reported value: JSON numbers and strings in `monitor`, text in `mntr`.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Int(i) => write!(f, "{i}"),
            Val::Float(x) => f.write_str(&java_double(*x)),
            Val::Str(s) => f.write_str(s),
        }
    }
}

impl Val {
    /// As a JSON value.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Val::Int(i) => (*i).into(),
            Val::Float(x) => {
                serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
            }
            Val::Str(s) => s.clone().into(),
        }
    }

    /// As a Prometheus sample value, if numeric.
    pub fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(x) => Some(*x),
            Val::Str(_) => None,
        }
    }
}

/// standalone, leader, follower or observer.
pub fn server_state(shared: &Shared) -> &'static str {
    shared.log().mode()
}

/// ZooKeeper's gauges, in the order 3.8's mntr prints them.
pub fn gauges(shared: &Shared) -> Vec<(&'static str, Val)> {
    let (min, avg, max) = shared.stats.latency();
    let (_, _, _, watches) = shared.lock_watches().counts();
    let (znodes, ephemerals, data_size) = {
        let tree = shared.read_tree();
        (
            tree.node_count() as i64,
            tree.ephemeral_count() as i64,
            tree.approximate_data_size() as i64,
        )
    };
    let load = |a: &std::sync::atomic::AtomicI64| a.load(Ordering::Relaxed);
    let s = &shared.stats;
    vec![
        ("ephemerals_count", Val::Int(ephemerals)),
        (
            "num_alive_connections",
            Val::Int(shared.lock_conns().len() as i64),
        ),
        ("avg_latency", Val::Float(avg)),
        (
            "outstanding_requests",
            Val::Int(shared.pending.len() as i64),
        ),
        ("znode_count", Val::Int(znodes)),
        ("global_sessions", Val::Int(shared.sessions.len() as i64)),
        ("non_mtls_remote_conn_count", Val::Int(0)),
        (
            "last_client_response_size",
            Val::Int(load(&s.last_response_size)),
        ),
        (
            "packets_sent",
            Val::Int(s.packets_sent.load(Ordering::Relaxed) as i64),
        ),
        (
            "packets_received",
            Val::Int(s.packets_received.load(Ordering::Relaxed) as i64),
        ),
        (
            "max_client_response_size",
            Val::Int(load(&s.max_response_size)),
        ),
        ("connection_drop_probability", Val::Float(0.0)),
        ("watch_count", Val::Int(watches as i64)),
        (
            "auth_failed_count",
            Val::Int(metrics::counter_value(Counter::AuthFailedCount) as i64),
        ),
        ("min_latency", Val::Int(min)),
        (
            "max_file_descriptor_count",
            Val::Int(fourlw::max_fds() as i64),
        ),
        ("approximate_data_size", Val::Int(data_size)),
        (
            "open_file_descriptor_count",
            Val::Int(fourlw::open_fds() as i64),
        ),
        ("local_sessions", Val::Int(0)),
        (
            "uptime",
            Val::Int(shared.started.elapsed().as_millis() as i64),
        ),
        ("max_latency", Val::Int(max)),
        ("outstanding_tls_handshake", Val::Int(0)),
        (
            "min_client_response_size",
            Val::Int(load(&s.min_response_size)),
        ),
        ("non_mtls_local_conn_count", Val::Int(0)),
    ]
}

/// Every mntr key (without `zk_`) and value: version and state, gauges, counters, summaries.
pub fn monitor(shared: &Shared) -> Vec<(String, Val)> {
    let mut out = vec![
        ("version".to_string(), Val::Str(fourlw::version_line())),
        (
            "server_state".to_string(),
            Val::Str(server_state(shared).into()),
        ),
    ];
    out.extend(quorum_keys(shared));
    out.extend(gauges(shared).into_iter().map(|(k, v)| (k.to_string(), v)));
    for (k, v) in metrics::global().lines() {
        let val = if v.contains('.') {
            Val::Float(v.parse().unwrap_or(0.0))
        } else {
            Val::Int(v.parse().unwrap_or(0))
        };
        out.push((k, val));
    }
    out
}

/// The quorum keys ZooKeeper's mntr adds in an ensemble: peer_state and quorum_size for every
/// member; learners, synced followers/observers and pending syncs for the leader.
fn quorum_keys(shared: &Shared) -> Vec<(String, Val)> {
    let log = shared.log();
    if !log.is_ensemble() {
        return Vec::new();
    }
    let m = log.raft().metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let learners: Vec<u64> = membership.learner_ids().collect();
    let mode = log.mode();
    let peer_state = match mode {
        "leader" => "leading - broadcast",
        "observer" => "observing - broadcast",
        _ if log.has_leader() => "following - broadcast",
        _ => "looking - election",
    };
    let mut out = vec![
        ("peer_state".to_string(), Val::Str(peer_state.into())),
        ("quorum_size".to_string(), Val::Int(voters.len() as i64)),
    ];
    if let Some(repl) = m.replication.as_ref().filter(|_| mode == "leader") {
        let last = m.last_log_index.unwrap_or(0);
        // In sync: matched within one heartbeat's worth of entries of the leader's log.
        let synced = |id: &u64| {
            repl.get(id)
                .and_then(|l| l.as_ref())
                .is_some_and(|l| l.index + 1000 >= last)
        };
        let followers = voters.iter().filter(|id| Some(**id) != m.current_leader);
        let synced_followers = followers.clone().filter(|id| synced(id)).count();
        let synced_observers = learners.iter().filter(|id| synced(id)).count();
        let kv = |k: &str, v: i64| (k.to_string(), Val::Int(v));
        out.push(kv("learners", (followers.count() + learners.len()) as i64));
        out.push(kv("synced_followers", synced_followers as i64));
        out.push(kv("synced_non_voting_followers", 0));
        out.push(kv("synced_observers", synced_observers as i64));
        out.push(kv("pending_syncs", 0));
        out.push(kv("last_proposal_size", -1));
        out.push(kv("max_proposal_size", -1));
        out.push(kv("min_proposal_size", -1));
    }
    out
}
