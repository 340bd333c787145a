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
    java_set_order(&mut ids);
    true
}

/// Orders identities as ZooKeeper 3.8 iterates them (whoAmI, the `auth` ACL scheme): its
/// connection keeps them in a set over a `ConcurrentHashMap` (16 bins until more than 12
/// entries), walked bin by bin, each bin in insertion order. `ids` is in that order already
/// except for entries just pushed at the end, so a stable sort by bin keeps it exact.
fn java_set_order(ids: &mut [Id]) {
    let bins = (ids.len() * 4 / 3 + 1).next_power_of_two().max(16) as u32;
    ids.sort_by_key(|id| {
        let h = java_id_hash(id);
        ((h ^ (h >> 16)) & 0x7fff_ffff) & (bins - 1)
    });
}

/// `Id.hashCode()` as jute generates it: 37-fold over the two Java string hashes.
fn java_id_hash(id: &Id) -> u32 {
    let string_hash = |s: &str| {
        s.encode_utf16()
            .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
    };
    let mut r = 17u32;
    r = r.wrapping_mul(37).wrapping_add(string_hash(&id.scheme));
    r.wrapping_mul(37).wrapping_add(string_hash(&id.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders measured from ZooKeeper 3.8's whoAmI (conformance scenarios whoami-digest and
    /// whoami-super).
    #[test]
    fn identities_follow_zookeepers_set_order() {
        let mut ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "u1:fpT/y03U+EjItKZOSLGvjnJlyng="),
        ];
        java_set_order(&mut ids);
        ids.push(Id::new("digest", "u2:o9NxcCGDPOlcV7JVhmKHOf5ctVE="));
        java_set_order(&mut ids);
        let schemes: Vec<&str> = ids.iter().map(|i| &i.id[..2]).collect();
        assert_eq!(schemes, ["u2", "u1", "12"]);

        let mut ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("super", ""),
            Id::new("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ];
        java_set_order(&mut ids);
        let schemes: Vec<&str> = ids.iter().map(|i| i.scheme.as_str()).collect();
        assert_eq!(schemes, ["super", "ip", "digest"]);
    }
}
