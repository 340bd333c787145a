//! Wiring and lifecycle: build the state, start the applier, the housekeeping tasks and the
//! client listener, then wait for SIGTERM/SIGINT and stop accepting.

use crate::config::Config;
use crate::replication::{run_applier, Log};
use crate::session::Sessions;
use crate::shared::Shared;
use crate::tree::{DataTree, Options};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Runs the server until a shutdown signal.
///
/// # Errors
/// The client port can't be bound, or the data directory can't be created.
pub async fn run(config: Config) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot create dataDir {}: {e}", config.data_dir.display()),
        )
    })?;
    let addr = SocketAddr::new(config.client_address, config.client_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let opts = Options {
        extended_types: config.extended_types,
        reconfig_enabled: config.reconfig_enabled,
        skip_acl: config.skip_acl,
    };
    let (log, rx) = Log::new();
    let sessions = Sessions::new(1, i64::from(config.tick_time_ms), crate::clock::now_ms());
    let shared = Arc::new(Shared::new(config, DataTree::new(opts), sessions, log));
    let applier = tokio::spawn(run_applier(shared.clone(), rx));
    tokio::spawn(crate::housekeeping::expire_sessions(shared.clone()));
    tokio::spawn(crate::housekeeping::reap_containers(shared.clone()));
    tokio::spawn(crate::net::serve(shared.clone(), listener));
    // Tests and scripts wait for this line to learn the port.
    println!("rzk listening on {bound}");
    tracing::info!(addr = %bound, version = crate::ops::fourlw::VERSION, "serving clients");
    shutdown_signal().await;
    tracing::info!("shutting down");
    shared.shutdown.cancel();
    for c in shared.lock_conns().values() {
        c.closed.cancel();
    }
    drop(shared);
    applier.abort();
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
