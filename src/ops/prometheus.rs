//! Prometheus metrics on `metricsProvider.httpPort` (default 7000) at /metrics, when
//! `metricsProvider.className` names ZooKeeper's Prometheus provider. Counters and summaries
//! come from the `metrics` facade (see [`super::metrics`]); gauges are read from live state
//! at each scrape, so a scrape is never stale.

use super::{metrics as catalogue, report};
use crate::shared::Shared;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::Arc;

/// ZooKeeper's provider class; rzk also accepts any class name ending in `PrometheusMetricsProvider`.
pub const PROVIDER_CLASS: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Installs the recorder (once per process), binds, and on a task of its own serves /metrics
/// until shutdown; returns once bound (see `admin::start`). Failures are logged; client
/// service goes on without metrics, as with ZooKeeper.
pub async fn start(shared: Arc<Shared>) {
    let handle = match PrometheusBuilder::new()
        .set_quantiles(&[0.5, 0.9, 0.99])
        .and_then(|b| b.install_recorder())
    {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the Prometheus recorder");
            return;
        }
    };
    catalogue::describe_all();
    let c = &shared.config;
    let addr = SocketAddr::new(c.metrics_address, c.metrics_port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot start the Prometheus metrics endpoint");
            return;
        }
    };
    if let Ok(a) = listener.local_addr() {
        tracing::info!(addr = %a, "Prometheus metrics at /metrics");
    }
    let state = (shared.clone(), handle);
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    let stop = shared.shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
}

async fn scrape(
    axum::extract::State((shared, handle)): axum::extract::State<(Arc<Shared>, PrometheusHandle)>,
) -> impl IntoResponse {
    for (name, v) in report::gauges(&shared) {
        if let Some(x) = v.number() {
            metrics::gauge!(name).set(x);
        }
    }
    for (name, v) in process_gauges() {
        metrics::gauge!(name).set(v);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// The standard process_* series (exportJvmInfo's process part).
fn process_gauges() -> Vec<(&'static str, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th field overall.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    vec![
        ("process_resident_memory_bytes", kb("VmRSS:") * 1024.0),
        ("process_virtual_memory_bytes", kb("VmSize:") * 1024.0),
        ("process_open_fds", super::fourlw::open_fds() as f64),
        ("process_max_fds", super::fourlw::max_fds() as f64),
        ("process_cpu_seconds_total", cpu),
    ]
}
