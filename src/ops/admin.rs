//! The AdminServer: ZooKeeper's HTTP commands (`GET <commandURL>/<name>`), answering with the
//! same JSON fields as 3.8's Jetty server, then `command` and `error`.

use super::{fourlw, report};
use crate::shared::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Primary names and their aliases, as `/commands` lists them (sorted by primary name).
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("environment", &["env", "envi"]),
    ("get_trace_mask", &["gtmk"]),
    ("hash", &[]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("last_snapshot", &["lsnp"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observer_connection_stat_reset", &["orst"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("set_trace_mask", &["stmk"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("system_properties", &["sysp"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// The primary name of a command or alias.
pub fn primary(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(p, aliases)| *p == name || aliases.contains(&name))
        .map(|(p, _)| *p)
}

/// Binds the AdminServer and, on a task of its own, serves it until shutdown; returns once it
/// is bound, so that the server announces itself only when every port answers. A bind failure
/// is logged and the server keeps serving clients, as ZooKeeper does when Jetty cannot start.
pub async fn start(shared: Arc<Shared>) {
    let c = &shared.config;
    let addr = SocketAddr::new(c.admin_address, c.admin_port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot start the AdminServer; continuing without it");
            return;
        }
    };
    let base = c.admin_command_url.trim_end_matches('/').to_string();
    let base = if base.is_empty() {
        "/".to_string()
    } else {
        base
    };
    match listener.local_addr() {
        Ok(a) => tracing::info!(addr = %a, url = %base, "AdminServer listening"),
        Err(_) => tracing::info!(url = %base, "AdminServer listening"),
    }
    let app = Router::new()
        .route(&base, get(list))
        .route(&format!("{}/", base.trim_end_matches('/')), get(list))
        .route(
            &format!("{}/:name", base.trim_end_matches('/')),
            get(command),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(shared.clone());
    let stop = shared.shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::warn!(error = %e, "AdminServer stopped");
        }
    });
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let base = shared.config.admin_command_url.trim_end_matches('/');
    let mut body = String::new();
    for (name, _) in COMMANDS {
        body.push_str(&format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"));
    }
    body.into_response()
}

async fn command(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let body = run(&shared, &name, &params);
    let text = pretty(&Value::Object(body));
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Runs one command: its fields, then `command` and `error` (ZooKeeper's CommandResponse).
pub fn run(shared: &Shared, name: &str, params: &HashMap<String, String>) -> Map<String, Value> {
    let Some(primary) = primary(name) else {
        return tail(Map::new(), name, Some(format!("Unknown command: {name}")));
    };
    match fields(shared, primary, params) {
        Ok(m) => tail(m, primary, None),
        // ZooKeeper puts `error` first when a command fails before producing fields.
        Err(msg) => {
            let mut m = Map::new();
            m.insert("error".into(), msg.into());
            m.insert("command".into(), primary.into());
            m
        }
    }
}

fn tail(mut m: Map<String, Value>, command: &str, error: Option<String>) -> Map<String, Value> {
    m.insert("command".into(), command.into());
    m.insert("error".into(), error.map_or(Value::Null, Value::String));
    m
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn fields(
    shared: &Shared,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Map<String, Value>, String> {
    let c = &shared.config;
    let stats = &shared.stats;
    Ok(match name {
        "configuration" => obj(json!({
            "client_port": c.client_port,
            "data_dir": c.data_dir.join("version-2").display().to_string(),
            "data_log_dir": c.data_log_dir.join("version-2").display().to_string(),
            "tick_time": c.tick_time_ms,
            "max_client_cnxns": c.max_client_cnxns,
            "min_session_timeout": c.min_session_timeout_ms,
            "max_session_timeout": c.max_session_timeout_ms,
            "server_id": 0,
            "client_port_listen_backlog": -1,
        })),
        "connection_stat_reset" => {
            for s in shared.lock_conns().values() {
                s.stats.reset();
            }
            Map::new()
        }
        "connections" => obj(json!({
            "connections": connections(shared, true),
            "secure_connections": [],
        })),
        "dirs" => obj(json!({
            "datadir_size": fourlw::dir_size(&c.data_dir.join("version-2")),
            "logdir_size": fourlw::dir_size(&c.data_log_dir.join("version-2")),
        })),
        "dump" => {
            let mut by_time: Map<String, Value> = Map::new();
            for (id, _, at) in shared.sessions.snapshot() {
                let e = by_time.entry(at.to_string()).or_insert_with(|| json!([]));
                if let Value::Array(a) = e {
                    a.push(id.into());
                }
            }
            let tree = shared.read_tree();
            let mut eph: Vec<_> = tree.ephemerals_by_session().collect();
            eph.sort_by_key(|(s, _)| *s);
            let mut by_session = Map::new();
            for (s, paths) in eph {
                by_session.insert(
                    s.to_string(),
                    paths.into_iter().map(str::to_string).collect(),
                );
            }
            obj(json!({
                "expiry_time_to_session_ids": by_time,
                "session_id_to_ephemeral_paths": by_session,
            }))
        }
        "environment" => fourlw::environment()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
        "get_trace_mask" => obj(json!({"tracemask": stats.trace_mask.load(Ordering::Relaxed)})),
        "hash" => obj(json!({"digests": []})),
        "initial_configuration" => obj(json!({"initial_configuration": c.initial_text})),
        "is_read_only" => obj(json!({"read_only": false})),
        "last_snapshot" => obj(json!({
            "zxid": format!("{:x}", stats.last_snapshot_zxid.load(Ordering::Relaxed)),
            "timestamp": stats.last_snapshot_secs.load(Ordering::Relaxed),
        })),
        "leader" => return Err("server is not initialized".into()),
        "monitor" => report::monitor(shared)
            .into_iter()
            .map(|(k, v)| (k, v.json()))
            .collect(),
        "observer_connection_stat_reset" => Map::new(),
        "observers" => obj(json!({"synced_observers": 0, "observers": []})),
        "ruok" => Map::new(),
        "server_stats" => server_stats(shared),
        "set_trace_mask" => {
            let mask = params
                .get("traceMask")
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| "setTraceMask requires long traceMask argument".to_string())?;
            stats.trace_mask.store(mask, Ordering::Relaxed);
            obj(json!({"tracemask": mask}))
        }
        "stat_reset" => {
            stats.reset();
            Map::new()
        }
        "stats" => {
            let mut m = server_stats(shared);
            m.insert("connections".into(), connections(shared, false).into());
            m.insert("secure_connections".into(), json!([]));
            m
        }
        "system_properties" => system_properties(shared),
        "voting_view" => obj(json!({"current_config": {}})),
        "watch_summary" => {
            let (conns, paths, total, _) = shared.lock_watches().counts();
            obj(json!({
                "num_connections": conns,
                "num_paths": paths,
                "num_total_watches": total,
            }))
        }
        "watches" | "watches_by_path" => {
            let by_path = shared.lock_watches().data_watches();
            let conns = shared.lock_conns();
            let sid = |id: &u64| conns.get(id).map_or(0, |c| c.session());
            if name == "watches_by_path" {
                let m: Map<String, Value> = by_path
                    .iter()
                    .map(|(p, ids)| (p.clone(), ids.iter().map(sid).collect()))
                    .collect();
                obj(json!({ "path_to_session_ids": m }))
            } else {
                let mut by_sid: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
                for (p, ids) in &by_path {
                    for id in ids {
                        by_sid.entry(sid(id)).or_default().push(p.clone());
                    }
                }
                let m: Map<String, Value> = by_sid
                    .into_iter()
                    .map(|(s, paths)| (s.to_string(), paths.into()))
                    .collect();
                obj(json!({ "session_id_to_watched_paths": m }))
            }
        }
        "zabstate" => obj(json!({"voting": false, "zabstate": ""})),
        _ => Map::new(),
    })
}

fn server_stats(shared: &Shared) -> Map<String, Value> {
    let c = &shared.config;
    let s = &shared.stats;
    let (min, avg, max) = s.latency();
    let sizes = json!({
        "last_buffer_size": s.last_response_size.load(Ordering::Relaxed),
        "min_buffer_size": s.min_response_size.load(Ordering::Relaxed),
        "max_buffer_size": s.max_response_size.load(Ordering::Relaxed),
    });
    obj(json!({
        "version": fourlw::version_line(),
        "read_only": false,
        "server_stats": {
            "packets_sent": s.packets_sent.load(Ordering::Relaxed),
            "packets_received": s.packets_received.load(Ordering::Relaxed),
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": sizes,
            "provider_null": false,
            "data_dir_size": fourlw::dir_size(&c.data_dir.join("version-2")),
            "log_dir_size": fourlw::dir_size(&c.data_log_dir.join("version-2")),
            "server_state": report::server_state(shared),
            "last_processed_zxid": shared.last_zxid(),
            "outstanding_requests": shared.pending.len(),
            "avg_latency": avg,
            "max_latency": max,
            "min_latency": min,
            "num_alive_client_connections": shared.lock_conns().len(),
            "auth_failed_count": super::metrics::counter_value(super::metrics::Counter::AuthFailedCount),
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
            "uptime": shared.started.elapsed().as_millis() as u64,
        },
        "client_response": sizes,
        "node_count": shared.read_tree().node_count(),
    }))
}

/// Connection objects: the full form (connections) or the brief one (stats).
fn connections(shared: &Shared, full: bool) -> Vec<Value> {
    let timeouts: HashMap<i64, i32> = shared
        .sessions
        .snapshot()
        .into_iter()
        .map(|(id, to, _)| (id, to))
        .collect();
    let mut conns: Vec<_> = shared.lock_conns().values().cloned().collect();
    conns.sort_by_key(|c| c.id);
    conns
        .iter()
        .map(|c| {
            let st = &c.stats;
            let l = |a: &std::sync::atomic::AtomicI64| a.load(Ordering::Relaxed);
            let mut m = obj(json!({
                "remote_socket_address": c.peer.to_string(),
                "interest_ops": 1,
                "outstanding_requests": 0,
                "packets_received": st.received.load(Ordering::Relaxed),
                "packets_sent": st.sent.load(Ordering::Relaxed),
            }));
            if full {
                let count = l(&st.count).max(1);
                let lop = st.last_op.lock().map(|l| *l).unwrap_or("NA");
                let more = obj(json!({
                    "session_id": c.session(),
                    "last_operation": lop,
                    "established": l(&st.established_ms),
                    "session_timeout": timeouts.get(&c.session()).copied().unwrap_or(0),
                    "last_cxid": l(&st.last_cxid),
                    "last_zxid": l(&st.last_zxid),
                    "last_response_time": l(&st.last_response_ms),
                    "last_latency": l(&st.last_latency),
                    "min_latency": l(&st.min_latency),
                    "avg_latency": l(&st.total_latency) / count,
                    "max_latency": l(&st.max_latency),
                }));
                m.extend(more);
            }
            Value::Object(m)
        })
        .collect()
}

/// The nearest thing to JVM system properties: the `zookeeper.*` view of zoo.cfg plus the
/// process environment keys envi shows.
fn system_properties(shared: &Shared) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in fourlw::environment() {
        m.insert(k.into(), v.into());
    }
    for (k, v) in &shared.config.raw {
        let key = if k.starts_with("zookeeper.") {
            k.clone()
        } else {
            format!("zookeeper.{k}")
        };
        m.insert(key, v.clone().into());
    }
    m
}

/// Jackson's default pretty printer style: `"key" : value`, two-space indent.
pub fn pretty(v: &Value) -> String {
    struct Jackson(serde_json::ser::PrettyFormatter<'static>);
    impl serde_json::ser::Formatter for Jackson {
        fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.begin_array(w)
        }
        fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.end_array(w)
        }
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.0.begin_array_value(w, first)
        }
        fn end_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            self.0.end_array_value(w)
        }
        fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.begin_object(w)
        }
        fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.end_object(w)
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.0.begin_object_key(w, first)
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b" : ")
        }
        fn end_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            self.0.end_object_value(w)
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Jackson(Default::default()));
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return "{}".into();
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_and_json_prints_like_jackson() {
        assert_eq!(primary("mntr"), Some("monitor"));
        assert_eq!(primary("configuration"), Some("configuration"));
        assert_eq!(primary("nope"), None);
        let v = json!({"a": 1, "b": {"c": null}});
        assert_eq!(
            pretty(&v),
            "{\n  \"a\" : 1,\n  \"b\" : {\n    \"c\" : null\n  }\n}"
        );
        let mut sorted: Vec<_> = COMMANDS.iter().map(|(p, _)| *p).collect();
        sorted.sort_unstable();
        assert_eq!(sorted, COMMANDS.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    }
}
