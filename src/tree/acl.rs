//! ACL checks and ACL fix-up (ZooKeeper's PrepRequestProcessor.fixupACL and checkACL), plus the
//! schemes' id rules: world, auth, digest, ip (with CIDR). Identities are `Id`s held by a
//! connection: `ip:<addr>` from the start, `digest:user:hash` and `super:` after auth.

use sha1::{Digest, Sha1};
use std::net::IpAddr;
use zk_codec::perms;
use zk_codec::records::{Acl, Id};

/// Whether `ids` may do `perm` on a node with `acl` (zk-protocol-reference.md §6.2).
pub fn allows(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    if acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return true;
    }
    acl.iter()
        .filter(|a| a.perms & perm != 0)
        .any(|a| matches(&a.id, ids))
}

fn matches(entry: &Id, ids: &[Id]) -> bool {
    match entry.scheme.as_str() {
        "world" => entry.id == "anyone",
        "ip" => ids
            .iter()
            .filter(|i| i.scheme == "ip")
            .any(|i| ip_matches(&entry.id, &i.id)),
        "digest" | "sasl" | "x509" => ids
            .iter()
            .any(|i| i.scheme == entry.scheme && i.id == entry.id),
        _ => false,
    }
}

/// Parses `addr[/bits]`; `None` if invalid (bits out of range, not an address).
fn parse_cidr(spec: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (spec, None),
    };
    // Java's IPAuthenticationProvider accepts only dotted quads for v4 (no shorthand).
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
    };
    Some((ip, bits))
}

fn ip_matches(spec: &str, addr: &str) -> bool {
    let (Some((net, bits)), Ok(ip)) = (parse_cidr(spec), addr.parse::<IpAddr>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => masked(&n.octets(), &a.octets(), bits),
        (IpAddr::V6(n), IpAddr::V6(a)) => masked(&n.octets(), &a.octets(), bits),
        _ => false,
    }
}

fn masked(net: &[u8], addr: &[u8], bits: u32) -> bool {
    let mut left = bits;
    for (n, a) in net.iter().zip(addr) {
        let take = left.min(8);
        if take == 0 {
            break;
        }
        let mask = (0xffu16 << (8 - take)) as u8;
        if n & mask != a & mask {
            return false;
        }
        left -= take;
    }
    true
}

/// Whether an ACL entry's id is valid for its scheme (the providers' isValid).
fn valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => id.id.split(':').count() == 2,
        "ip" => parse_cidr(&id.id).is_some(),
        _ => false,
    }
}

/// Schemes whose identities count as "authenticated" for the `auth` ACL scheme.
fn authenticated(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// Validates a requested ACL list and expands `auth` entries into the caller's authenticated
/// identities. Duplicates are dropped, first occurrence kept. `None` means InvalidACL.
pub fn fixup(requested: &[Acl], ids: &[Id]) -> Option<Vec<Acl>> {
    if requested.is_empty() {
        return None;
    }
    let mut out: Vec<Acl> = Vec::with_capacity(requested.len());
    let mut push = |a: Acl| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for a in requested {
        if a.id.scheme == "auth" {
            let mut any = false;
            for i in ids.iter().filter(|i| authenticated(&i.scheme)) {
                push(Acl {
                    perms: a.perms,
                    id: i.clone(),
                });
                any = true;
            }
            if !any {
                return None;
            }
        } else if valid_id(&a.id) {
            push(a.clone());
        } else {
            return None;
        }
    }
    Some(out)
}

/// The digest identity for `user:password`: `user:` + Base64(SHA-1("user:password")).
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!("{user}:{}", base64(&hash))
}

/// Standard Base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// getACL without ADMIN shows digest ids as `user:x` (ZooKeeper hides the hash).
pub fn masked_for_reader(acl: &[Acl], ids: &[Id]) -> Vec<Acl> {
    if allows(acl, perms::ADMIN, ids) {
        return acl.to_vec();
    }
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", format!("{user}:x")),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn super_digest_matches_zookeeper() {
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn ip_cidr_matching() {
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("127.0.0.0/8", "127.1.2.3"));
        assert!(!ip_matches("10.0.0.0/8", "127.0.0.1"));
        assert!(ip_matches("::1", "::1"));
        assert!(!ip_matches("127.0.0.1", "::1"));
        assert!(ip_matches("0.0.0.0/0", "1.2.3.4"));
        assert!(!valid_id(&Id::new("ip", "127.0.0.1/33")));
    }

    #[test]
    fn checks_follow_perm_bits_and_super() {
        let a = vec![
            acl(perms::READ, "digest", "u:h"),
            acl(perms::ALL, "ip", "10.0.0.0/8"),
        ];
        let ip = Id::new("ip", "127.0.0.1");
        assert!(!allows(&a, perms::READ, std::slice::from_ref(&ip)));
        let u = Id::new("digest", "u:h");
        assert!(allows(&a, perms::READ, &[ip.clone(), u.clone()]));
        assert!(!allows(&a, perms::WRITE, &[ip.clone(), u]));
        assert!(allows(&a, perms::WRITE, &[ip, Id::new("super", "")]));
        assert!(allows(&[], perms::ADMIN, &[]));
    }

    #[test]
    fn fixup_expands_auth_and_rejects_invalid() {
        let ids = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        let got = fixup(&[acl(31, "auth", ""), acl(31, "auth", "")], &ids).unwrap();
        assert_eq!(got, vec![acl(31, "digest", "u:h")]);
        assert_eq!(fixup(&[acl(31, "auth", "")], &ids[..1]), None);
        assert_eq!(fixup(&[acl(31, "world", "nobody")], &ids), None);
        assert_eq!(fixup(&[], &ids), None);
        assert_eq!(fixup(&[acl(31, "digest", "nocolon")], &ids), None);
        assert_eq!(fixup(&[acl(31, "foo", "x")], &ids), None);
    }

    #[test]
    fn getacl_masks_digest_without_admin() {
        let a = vec![
            acl(perms::READ, "world", "anyone"),
            acl(perms::ALL, "digest", "u:hash"),
        ];
        let m = masked_for_reader(&a, &[Id::new("ip", "1.1.1.1")]);
        assert_eq!(m[1].id.id, "u:x");
    }
}
