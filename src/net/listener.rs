//! The accept loop: per-IP connection cap (maxClientCnxns), one task per connection, and a
//! short back-off when accept fails (e.g. out of file descriptors).

use super::conn;
use crate::shared::Shared;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Counts connections per client address.
#[derive(Debug, Default)]
pub struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    fn acquire(&self, ip: IpAddr, max: usize) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = g.entry(ip).or_default();
        if max > 0 && *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, ip: IpAddr) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = g.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                g.remove(&ip);
            }
        }
    }
}

/// Accepts clients until shutdown.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let per_ip = Arc::new(PerIp::default());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !per_ip.acquire(peer.ip(), shared.config.max_client_cnxns) {
            crate::ops::metrics::count(crate::ops::metrics::Counter::ConnectionRejected, 1);
            tracing::info!(peer = %peer, max = shared.config.max_client_cnxns, "too many connections from this address, closing");
            continue;
        }
        let shared = shared.clone();
        let per_ip = per_ip.clone();
        tokio::spawn(async move {
            conn::run(shared, stream, peer).await;
            per_ip.release(peer.ip());
        });
    }
}
