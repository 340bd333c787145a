//! addauth: turns an auth packet into connection identities. `digest` adds
//! `digest:user:base64(sha1(user:password))` (and `super:` when it equals the configured super
//! digest); `ip` re-adds the peer address. Other schemes fail (AuthFailed, then close), as they
//! do on a ZooKeeper without that provider.

use crate::shared::Shared;
use crate::sink::Sink;
use crate::tree::digest_id;
use zk_codec::records::{AuthPacket, Id};

/// Adds the identities of `a` to the connection; false if the scheme is unknown.
pub fn add(shared: &Shared, sink: &Sink, a: &AuthPacket) -> bool {
    let new: Vec<Id> = match a.scheme.as_str() {
        "digest" => {
            let id = digest_id(&String::from_utf8_lossy(&a.auth));
            let mut v = Vec::new();
            if shared.config.super_digest.as_deref() == Some(id.as_str()) {
                v.push(Id::new("super", ""));
            }
            v.push(Id::new("digest", id));
            v
        }
        "ip" => vec![Id::new("ip", sink.peer.ip().to_string())],
        _ => return false,
    };
    let mut ids = sink.ids.write().unwrap_or_else(|e| e.into_inner());
    for id in new {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    true
}
