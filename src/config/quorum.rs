//! `server.N` lines (reference §11.3) and the quorum they describe:
//! `server.<id>=<host>:<quorumPort>:<electionPort>[:participant|:observer][;[<clientHost>:]<clientPort>]`.

use super::ConfigError;
use std::collections::BTreeMap;

/// Whether a member votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Participant,
    Observer,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub role: Role,
    /// The client address after `;`: (host, port); a bare port means all interfaces.
    pub client: Option<(String, u16)>,
}

/// The members from the static or dynamic config, and this server's id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quorum {
    pub members: BTreeMap<u64, Member>,
    /// From `<dataDir>/myid`, read when there are members.
    pub my_id: Option<u64>,
    /// standaloneEnabled (default true): with false, even one member means quorum mode.
    pub standalone_enabled: bool,
    /// `version=` of a dynamic config file (hex); 0 for a static config.
    pub version: u64,
}

impl Member {
    /// The line ZooKeeper prints for this member in `/zookeeper/config` (QuorumServer's text):
    /// `server.N=host:q:e:participant|observer[;clientHost:clientPort]`.
    pub fn config_line(&self) -> String {
        let host = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        let role = match self.role {
            Role::Participant => "participant",
            Role::Observer => "observer",
        };
        let mut line = format!(
            "server.{}={}:{}:{}:{role}",
            self.id,
            host(&self.host),
            self.quorum_port,
            self.election_port
        );
        if let Some((h, p)) = &self.client {
            line += &format!(";{}:{p}", host(h));
        }
        line
    }
}

impl Quorum {
    /// The data of `/zookeeper/config` (and of getConfig) in quorum mode: one line per member,
    /// then `version=<hex>`, as ZooKeeper's QuorumVerifier prints it.
    pub fn config_text(&self) -> String {
        let mut text = String::new();
        for m in self.members.values() {
            text += &m.config_line();
            text.push('\n');
        }
        text + &format!("version={:x}", self.version)
    }

    /// ZooKeeper's rule: quorum mode with more than one voting member, or with any member
    /// when standaloneEnabled=false.
    pub fn is_quorum_mode(&self) -> bool {
        let voters = self
            .members
            .values()
            .filter(|m| m.role == Role::Participant)
            .count();
        voters > 1 || (!self.standalone_enabled && !self.members.is_empty())
    }
}

fn port(key: &str, what: &str, v: &str) -> Result<u16, ConfigError> {
    v.trim().parse().map_err(|_| {
        ConfigError(format!(
            "Invalid value for {key}: {what} '{v}' is not a port number"
        ))
    })
}

/// Parses one `server.N` key and value.
pub fn parse_member(key: &str, value: &str) -> Result<Member, ConfigError> {
    let bad = |why: &str| ConfigError(format!("Invalid value for {key}: '{value}' ({why})"));
    let id: u64 = key
        .strip_prefix("server.")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ConfigError(format!("Invalid key {key}: the server id must be a number")))?;
    if !(1..=255).contains(&id) {
        return Err(ConfigError(format!(
            "Invalid key {key}: the server id must be between 1 and 255"
        )));
    }
    let (server, client) = match value.split_once(';') {
        Some((s, c)) => (s.trim(), Some(c.trim())),
        None => (value.trim(), None),
    };
    // Several addresses separated by '|' (multiAddress): the first one is used.
    let server = server.split('|').next().unwrap_or(server);
    let (host, rest) = if let Some(v6) = server.strip_prefix('[') {
        let (h, r) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (
            h.to_string(),
            r.strip_prefix(':')
                .ok_or_else(|| bad("expected ':' after ']'"))?,
        )
    } else {
        let (h, r) = server
            .split_once(':')
            .ok_or_else(|| bad("expected host:quorumPort:electionPort"))?;
        (h.to_string(), r)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 || host.is_empty() {
        return Err(bad(
            "expected host:quorumPort:electionPort[:participant|:observer]",
        ));
    }
    let quorum_port = port(key, "quorum port", parts[0])?;
    let election_port = port(key, "election port", parts[1])?;
    if quorum_port == election_port {
        return Err(bad("the quorum and election ports must differ"));
    }
    let role = match parts.get(2).map(|r| r.trim().to_ascii_lowercase()) {
        None => Role::Participant,
        Some(r) if r == "participant" => Role::Participant,
        Some(r) if r == "observer" => Role::Observer,
        Some(_) => return Err(bad("the role must be participant or observer")),
    };
    let client = match client.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(match c.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_string(),
                port(key, "client port", p)?,
            ),
            None => ("0.0.0.0".to_string(), port(key, "client port", c)?),
        }),
    };
    Ok(Member {
        id,
        host,
        quorum_port,
        election_port,
        role,
        client,
    })
}

/// Reads `<dataDir>/myid`: the id on the first line.
pub fn read_my_id(data_dir: &std::path::Path) -> Result<u64, ConfigError> {
    let path = data_dir.join("myid");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("cannot read the myid file {}: {e}", path.display())))?;
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| {
            ConfigError(format!(
                "the myid file {} must hold the server id as a number",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_text_is_zookeepers() {
        // Expected lines printed by ZooKeeper 3.8's QuorumServer for the same server values.
        let cases = [
            ("127.0.0.1:2888:3888", "127.0.0.1:2888:3888:participant"),
            (
                "127.0.0.1:2888:3888;2181",
                "127.0.0.1:2888:3888:participant;0.0.0.0:2181",
            ),
            (
                "127.0.0.1:2888:3888;127.0.0.1:2181",
                "127.0.0.1:2888:3888:participant;127.0.0.1:2181",
            ),
            (
                "127.0.0.1:2888:3888:observer;2181",
                "127.0.0.1:2888:3888:observer;0.0.0.0:2181",
            ),
            (
                "localhost:2888:3888:participant;localhost:2181",
                "localhost:2888:3888:participant;localhost:2181",
            ),
        ];
        for (value, want) in cases {
            let m = super::parse_member("server.1", value).unwrap();
            assert_eq!(m.config_line(), format!("server.1={want}"), "{value}");
        }
        let mut q = super::Quorum::default();
        for i in 1..=2 {
            let m = super::parse_member(&format!("server.{i}"), "127.0.0.1:1:2").unwrap();
            q.members.insert(i, m);
        }
        assert_eq!(
            q.config_text(),
            "server.1=127.0.0.1:1:2:participant\nserver.2=127.0.0.1:1:2:participant\nversion=0"
        );
        q.version = 0x100000000;
        assert!(q.config_text().ends_with("\nversion=100000000"));
    }

    use super::*;

    #[test]
    fn server_lines_parse_like_zookeeper() {
        let m = parse_member("server.1", "zk1:2888:3888").unwrap();
        assert_eq!(
            (
                m.id,
                m.host.as_str(),
                m.quorum_port,
                m.election_port,
                m.role,
                m.client
            ),
            (1, "zk1", 2888, 3888, Role::Participant, None)
        );
        let m = parse_member("server.2", "127.0.0.2:2888:3888:observer;2181").unwrap();
        assert_eq!(m.role, Role::Observer);
        assert_eq!(m.client, Some(("0.0.0.0".into(), 2181)));
        let m = parse_member("server.3", "[::1]:2888:3888;127.0.0.3:2182").unwrap();
        assert_eq!(
            (m.host.as_str(), m.client),
            ("::1", Some(("127.0.0.3".into(), 2182)))
        );
        for (k, v) in [
            ("server.x", "a:1:2"),
            ("server.0", "a:1:2"),
            ("server.1", "a:1"),
            ("server.1", "a:1:1"),
            ("server.1", "a:1:2:leader"),
            ("server.1", "a:port:2"),
            ("server.1", "a:1:2;x"),
        ] {
            let e = parse_member(k, v).unwrap_err().0;
            assert!(e.contains(k), "{k}={v}: {e}");
        }
    }

    #[test]
    fn quorum_mode_needs_two_voters_or_standalone_disabled() {
        let mut q = Quorum {
            standalone_enabled: true,
            ..Default::default()
        };
        q.members
            .insert(1, parse_member("server.1", "a:1:2").unwrap());
        assert!(!q.is_quorum_mode());
        q.members
            .insert(2, parse_member("server.2", "b:1:2:observer").unwrap());
        assert!(!q.is_quorum_mode());
        q.members
            .insert(3, parse_member("server.3", "c:1:2").unwrap());
        assert!(q.is_quorum_mode());
        q.members.remove(&3);
        q.standalone_enabled = false;
        assert!(q.is_quorum_mode());
    }
}
