//! zoo.cfg → [`Config`]. The file is Java properties (`key=value`, `key: value` or
//! `key value`; `#`/`!` comments; backslash continuations and escapes). Keys ZooKeeper passes on
//! as `zookeeper.<key>` system properties are accepted here without the prefix, and also with
//! it. Unknown keys are warned about once; bad values are one error naming the key.

mod properties;
mod quorum;

pub use properties::parse_properties;
pub use quorum::{Member, Quorum, Role};

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// A configuration error: one line naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The server's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub tick_time_ms: i32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: u16,
    pub client_address: IpAddr,
    pub max_client_cnxns: usize,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Four-letter words allowed; `None` = all (`*`).
    pub four_letter_words: Option<Vec<String>>,
    pub extended_types: bool,
    pub reconfig_enabled: bool,
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: usize,
    pub max_buffer: usize,
    /// forceSync: fsync the log before acknowledging.
    pub force_sync: bool,
    /// snapCount: log entries between snapshots.
    pub snap_count: u64,
    /// autopurge.snapRetainCount: snapshots kept (at least 3).
    pub snap_retain_count: usize,
    /// preAllocSize (KB): the size at which a log segment is closed.
    pub segment_bytes: u64,
    /// autopurge.purgeInterval in hours (0 = off): how often old snapshots are purged.
    pub purge_interval_hours: u64,
    /// rzk.idlePollMicros (rzk's own; ZooKeeper ignores it): how long the CPUs are kept from
    /// idling after activity (`idle_poll`), 0 = off.
    pub idle_poll_micros: u64,
    /// admin.enableServer (ZooKeeper 3.5–3.9 default: on).
    pub admin_enabled: bool,
    pub admin_address: IpAddr,
    pub admin_port: u16,
    /// admin.commandURL.
    pub admin_command_url: String,
    /// metricsProvider.className names the Prometheus provider.
    pub metrics_prometheus: bool,
    /// metricsProvider.httpHost / httpPort.
    pub metrics_address: IpAddr,
    pub metrics_port: u16,
    /// server.N lines, myid and standaloneEnabled.
    pub quorum: Quorum,
    /// The configuration file's text (AdminServer `initial_configuration`).
    pub initial_text: String,
    /// Every key as read, for `conf`-like reports.
    pub raw: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick_time_ms: 2000,
            data_dir: PathBuf::from("./data"),
            data_log_dir: PathBuf::from("./data"),
            client_port: 2181,
            client_address: IpAddr::from([127, 0, 0, 1]),
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            four_letter_words: Some(vec!["srvr".into()]),
            extended_types: false,
            reconfig_enabled: false,
            skip_acl: false,
            super_digest: None,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            max_buffer: 0xfffff,
            force_sync: true,
            snap_count: 100_000,
            snap_retain_count: 3,
            segment_bytes: 64 << 20,
            purge_interval_hours: 0,
            idle_poll_micros: crate::idle_poll::DEFAULT_MICROS,
            admin_enabled: true,
            admin_address: IpAddr::from([127, 0, 0, 1]),
            admin_port: 8080,
            admin_command_url: "/commands".into(),
            metrics_prometheus: false,
            metrics_address: IpAddr::from([127, 0, 0, 1]),
            metrics_port: 7000,
            initial_text: String::new(),
            quorum: Quorum {
                standalone_enabled: true,
                ..Quorum::default()
            },
            raw: BTreeMap::new(),
        }
    }
}

fn int<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse::<T>().map_err(|_| {
        ConfigError(format!(
            "Invalid value for {key}: '{v}' is not a valid number"
        ))
    })
}

fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(ConfigError(format!(
            "Invalid value for {key}: '{v}' is not true/false"
        ))),
    }
}

fn is_membership_key(k: &str) -> bool {
    ["server.", "group.", "weight."]
        .iter()
        .any(|p| k.starts_with(p))
}

fn address(key: &str, v: &str) -> Result<IpAddr, ConfigError> {
    v.parse().map_err(|_| {
        ConfigError(format!(
            "Invalid value for {key}: '{v}' is not an IP address"
        ))
    })
}

/// Keys accepted and used elsewhere (quorum, admin, metrics…): no warning for these.
fn known_elsewhere(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "server.",
        "group.",
        "weight.",
        "admin.",
        "metricsProvider.",
        "ssl.",
        "authProvider.",
        "quorum.",
        "autopurge.",
        "multiAddress.",
        "jvm.",
        "sslQuorum",
        "secureClientPort",
    ];
    const KEYS: &[&str] = &[
        "initLimit",
        "syncLimit",
        "electionAlg",
        "electionPort",
        "quorumListenOnAllIPs",
        "peerType",
        "syncEnabled",
        "dynamicConfigFile",
        "standaloneEnabled",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "portUnification",
        "clientPortListenBacklog",
        "snapCount",
        "snapSizeLimitInKb",
        "txnLogSizeLimitInKb",
        "preAllocSize",
        "globalOutstandingLimit",
        "maxCnxns",
        "forceSync",
        "fsync.warningthresholdms",
        "commitLogCount",
        "maxResponseCacheSize",
        "maxGetChildrenResponseCacheSize",
        "serverCnxnFactory",
        "leaderServes",
        "cnxTimeout",
        "enforceQuota",
        "digest.enabled",
        "closeSessionTxn.enabled",
        "connectToLearnerMasterLimit",
        "observerMasterPort",
        "oraclePath",
        "emulate353TTLNodes",
        "nio.sessionlessCnxnTimeout",
        "client.portUnification",
        "watchManagerName",
        "serializeLastProcessedZxid.enabled",
        "snapshot.compression.method",
        "largeRequestMaxBytes",
        "largeRequestThreshold",
        "request_throttle_max_requests",
        "secureClientPortAddress",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}

impl Config {
    /// Reads a zoo.cfg file.
    ///
    /// # Errors
    /// The file can't be read, or a value is invalid.
    pub fn from_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let mut props = parse_properties(&text);
        // A dynamic config file holds the server./group./weight. lines (and version=); they
        // may not also appear in the static file.
        let dynamic = props
            .iter()
            .find(|(k, _)| k == "dynamicConfigFile")
            .map(|(_, v)| PathBuf::from(v));
        if let Some(dyn_path) = dynamic {
            if let Some((k, _)) = props.iter().find(|(k, _)| is_membership_key(k)) {
                return Err(ConfigError(format!(
                    "{k} must be in the dynamic config file {} when dynamicConfigFile is set",
                    dyn_path.display()
                )));
            }
            let dyn_text = std::fs::read_to_string(&dyn_path).map_err(|e| {
                ConfigError(format!(
                    "cannot read dynamicConfigFile {}: {e}",
                    dyn_path.display()
                ))
            })?;
            for (k, v) in parse_properties(&dyn_text) {
                if !is_membership_key(&k) && k != "version" {
                    return Err(ConfigError(format!(
                        "{k} is not allowed in the dynamic config file {} (only server.N, group.N, weight.N and version)",
                        dyn_path.display()
                    )));
                }
                props.push((k, v));
            }
        }
        let mut c = Config::from_properties(&props)?;
        c.initial_text = text;
        // As ZooKeeper: myid is needed in quorum mode only (a lone server.N line is ignored).
        if c.quorum.is_quorum_mode() {
            c.quorum.my_id = Some(quorum::read_my_id(&c.data_dir)?);
        }
        Ok(c)
    }

    /// Builds a config from properties; ZooKeeper's defaults where a key is absent (tickTime
    /// 3000 when a file is given, clientPortAddress all interfaces).
    ///
    /// # Errors
    /// A value is invalid.
    pub fn from_properties(props: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut c = Config {
            tick_time_ms: 3000,
            client_address: IpAddr::from([0, 0, 0, 0]),
            admin_address: IpAddr::from([0, 0, 0, 0]),
            metrics_address: IpAddr::from([0, 0, 0, 0]),
            ..Config::default()
        };
        let mut min_timeout = None;
        let mut max_timeout = None;
        let mut data_log_dir = None;
        let mut warned = std::collections::HashSet::new();
        for (raw_key, v) in props {
            let key = raw_key.strip_prefix("zookeeper.").unwrap_or(raw_key);
            c.raw.insert(raw_key.clone(), v.clone());
            match key {
                "tickTime" => {
                    c.tick_time_ms = int(key, v)?;
                    if c.tick_time_ms <= 0 {
                        return Err(ConfigError(format!(
                            "Invalid value for tickTime: {v} (must be > 0)"
                        )));
                    }
                }
                "dataDir" => c.data_dir = PathBuf::from(v),
                "dataLogDir" => data_log_dir = Some(PathBuf::from(v)),
                "clientPort" => c.client_port = int(key, v)?,
                "clientPortAddress" => c.client_address = address(key, v)?,
                "admin.enableServer" => c.admin_enabled = boolean(key, v)?,
                "admin.serverAddress" => c.admin_address = address(key, v)?,
                "admin.serverPort" => c.admin_port = int(key, v)?,
                "admin.commandURL" => {
                    if !v.starts_with('/') {
                        return Err(ConfigError(format!(
                            "Invalid value for admin.commandURL: '{v}' must start with /"
                        )));
                    }
                    c.admin_command_url = v.clone();
                }
                "metricsProvider.className" => {
                    c.metrics_prometheus = v.ends_with("PrometheusMetricsProvider");
                    if !c.metrics_prometheus && !v.ends_with("DefaultMetricsProvider") {
                        return Err(ConfigError(format!(
                            "Invalid value for metricsProvider.className: '{v}' (rzk provides {} and the default provider)",
                            crate::ops::prometheus::PROVIDER_CLASS
                        )));
                    }
                }
                "metricsProvider.httpHost" => c.metrics_address = address(key, v)?,
                "metricsProvider.httpPort" => c.metrics_port = int(key, v)?,
                "autopurge.purgeInterval" => c.purge_interval_hours = int(key, v)?,
                "rzk.idlePollMicros" => c.idle_poll_micros = int(key, v)?,
                "electionAlg" => {
                    if v != "3" {
                        return Err(ConfigError(format!(
                            "Invalid value for electionAlg: '{v}' (only 3 is supported)"
                        )));
                    }
                }
                "initLimit"
                | "syncLimit"
                | "connectToLearnerMasterLimit"
                | "electionPort"
                | "clientPortListenBacklog"
                | "globalOutstandingLimit"
                | "maxCnxns"
                | "commitLogCount"
                | "snapSizeLimitInKb"
                | "txnLogSizeLimitInKb"
                | "fsync.warningthresholdms"
                | "cnxTimeout"
                | "admin.idleTimeout"
                | "nio.sessionlessCnxnTimeout"
                | "observerMasterPort" => {
                    int::<i64>(key, v)?;
                }
                "standaloneEnabled" => c.quorum.standalone_enabled = boolean(key, v)?,
                // Only a dynamic config file carries it (hex, the zxid of its reconfig).
                "version" => {
                    c.quorum.version = u64::from_str_radix(v.trim(), 16).map_err(|_| {
                        ConfigError(format!("Invalid value for version: '{v}' (hex expected)"))
                    })?
                }
                k if k.starts_with("server.") => {
                    let m = quorum::parse_member(k, v)?;
                    c.quorum.members.insert(m.id, m);
                }
                "localSessionsEnabled"
                | "localSessionsUpgradingEnabled"
                | "quorumListenOnAllIPs"
                | "syncEnabled"
                | "sslQuorum"
                | "portUnification"
                | "digest.enabled"
                | "closeSessionTxn.enabled"
                | "emulate353TTLNodes" => {
                    boolean(key, v)?;
                }
                "peerType" => {
                    if v != "observer" && v != "participant" {
                        return Err(ConfigError(format!(
                            "Invalid value for peerType: '{v}' (observer or participant)"
                        )));
                    }
                }
                "maxClientCnxns" => c.max_client_cnxns = int(key, v)?,
                "minSessionTimeout" => min_timeout = Some(int::<i32>(key, v)?),
                "maxSessionTimeout" => max_timeout = Some(int::<i32>(key, v)?),
                "4lw.commands.whitelist" => {
                    let words: Vec<String> = v
                        .split(',')
                        .map(|w| w.trim().to_string())
                        .filter(|w| !w.is_empty())
                        .collect();
                    c.four_letter_words = if words.iter().any(|w| w == "*") {
                        None
                    } else {
                        Some(words)
                    };
                }
                "extendedTypesEnabled" => c.extended_types = boolean(key, v)?,
                "reconfigEnabled" => c.reconfig_enabled = boolean(key, v)?,
                "skipACL" => c.skip_acl = boolean(key, v)?,
                "DigestAuthenticationProvider.superDigest" => c.super_digest = Some(v.clone()),
                "znode.container.checkIntervalMs" => c.container_check_interval_ms = int(key, v)?,
                "znode.container.maxPerMinute" => c.container_max_per_minute = int(key, v)?,
                "jute.maxbuffer" => c.max_buffer = int(key, v)?,
                "forceSync" => c.force_sync = boolean(key, v)?,
                "snapCount" => {
                    c.snap_count = int(key, v)?;
                    if c.snap_count < 2 {
                        return Err(ConfigError(format!(
                            "Invalid value for snapCount: {v} (must be at least 2)"
                        )));
                    }
                }
                "autopurge.snapRetainCount" => c.snap_retain_count = int::<usize>(key, v)?.max(3),
                "preAllocSize" => c.segment_bytes = int::<u64>(key, v)?.max(1) * 1024,
                k if known_elsewhere(k) => {}
                _ => {
                    if warned.insert(raw_key.clone()) {
                        tracing::warn!(key = %raw_key, "unknown zoo.cfg key (ZooKeeper would pass it on as a system property)")
                    }
                }
            }
        }
        c.data_log_dir = data_log_dir.unwrap_or_else(|| c.data_dir.clone());
        c.min_session_timeout_ms = min_timeout
            .filter(|t| *t >= 0)
            .unwrap_or(2 * c.tick_time_ms);
        c.max_session_timeout_ms = max_timeout
            .filter(|t| *t >= 0)
            .unwrap_or(20 * c.tick_time_ms);
        if c.min_session_timeout_ms > c.max_session_timeout_ms {
            return Err(ConfigError(format!(
                "minSessionTimeout {} must not be larger than maxSessionTimeout {}",
                c.min_session_timeout_ms, c.max_session_timeout_ms
            )));
        }
        Ok(c)
    }

    /// Whether a four-letter word may run (srvr always may).
    pub fn allows_word(&self, word: &str) -> bool {
        word == "srvr"
            || self
                .four_letter_words
                .as_ref()
                .is_none_or(|w| w.iter().any(|x| x == word))
    }

    /// The timeout a client asking for `requested` ms gets.
    pub fn negotiate_timeout(&self, requested: i32) -> i32 {
        requested.clamp(self.min_session_timeout_ms, self.max_session_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::from_properties(&parse_properties(text))
    }

    #[test]
    fn properties_syntax() {
        let p =
            parse_properties("# c\n! c\na=1\nb : 2\nc 3\nd=x\\\n  y\ne=\\u0041\\t\n  f = g = h \n");
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            p,
            vec![
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "xy"),
                ("e", "A\t"),
                ("f", "g = h")
            ]
        );
    }

    #[test]
    fn zookeeper_defaults_and_derived_timeouts() {
        let c = cfg("dataDir=/tmp/x\nclientPort=2999\n").unwrap();
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (6000, 60000)
        );
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/x"));
        assert!(c.allows_word("srvr"));
        assert!(!c.allows_word("ruok"));
        assert_eq!(c.negotiate_timeout(1), 6000);
    }

    #[test]
    fn whitelist_and_system_property_keys() {
        let c = cfg("4lw.commands.whitelist=ruok, stat\nzookeeper.extendedTypesEnabled=true\n")
            .unwrap();
        assert!(c.allows_word("ruok") && c.allows_word("stat") && !c.allows_word("mntr"));
        assert!(c.extended_types);
        assert!(cfg("4lw.commands.whitelist=*").unwrap().allows_word("mntr"));
    }

    #[test]
    fn bad_values_name_the_key() {
        assert!(cfg("tickTime=abc").unwrap_err().0.contains("tickTime"));
        assert!(cfg("tickTime=0").unwrap_err().0.contains("tickTime"));
        assert!(cfg("clientPort=70000")
            .unwrap_err()
            .0
            .contains("clientPort"));
        assert!(cfg("minSessionTimeout=9000\nmaxSessionTimeout=100")
            .unwrap_err()
            .0
            .contains("minSessionTimeout"));
        assert!(cfg("clientPortAddress=nope")
            .unwrap_err()
            .0
            .contains("clientPortAddress"));
    }

    #[test]
    fn admin_metrics_and_validated_keys() {
        let c = cfg("admin.serverPort=9999\nadmin.enableServer=false\nmetricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpPort=7001\nautopurge.purgeInterval=2\n").unwrap();
        assert_eq!((c.admin_port, c.admin_enabled), (9999, false));
        assert!(c.metrics_prometheus);
        assert_eq!(c.metrics_port, 7001);
        assert_eq!(c.purge_interval_hours, 2);
        assert_eq!(cfg("rzk.idlePollMicros=0").unwrap().idle_poll_micros, 0);
        let d = cfg("dataDir=/x").unwrap();
        assert_eq!(d.idle_poll_micros, crate::idle_poll::DEFAULT_MICROS);
        assert!(d.admin_enabled && !d.metrics_prometheus);
        assert_eq!((d.admin_port, d.metrics_port), (8080, 7000));
        for (text, key) in [
            (
                "metricsProvider.className=com.example.Other",
                "metricsProvider.className",
            ),
            ("peerType=leader", "peerType"),
            ("electionAlg=1", "electionAlg"),
            ("initLimit=ten", "initLimit"),
            ("standaloneEnabled=maybe", "standaloneEnabled"),
            ("admin.commandURL=commands", "admin.commandURL"),
            ("admin.serverAddress=here", "admin.serverAddress"),
            ("rzk.idlePollMicros=-1", "rzk.idlePollMicros"),
        ] {
            assert!(cfg(text).unwrap_err().0.contains(key), "{text}");
        }
    }

    #[test]
    fn dynamic_config_file_is_read_and_exclusive() {
        let dir = std::env::temp_dir().join(format!("rzk-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dynamic = dir.join("zoo.cfg.dynamic.100000000");
        std::fs::write(
            &dynamic,
            "server.1=127.0.0.1:2888:3888;2181\nversion=100000000\n",
        )
        .unwrap();
        let main = dir.join("zoo.cfg");
        std::fs::write(
            &main,
            format!(
                "dataDir={}\ndynamicConfigFile={}\n",
                dir.display(),
                dynamic.display()
            ),
        )
        .unwrap();
        let c = Config::from_file(&main).unwrap();
        assert_eq!(
            c.raw.get("server.1").map(String::as_str),
            Some("127.0.0.1:2888:3888;2181")
        );
        assert!(c.initial_text.contains("dynamicConfigFile"));
        std::fs::write(
            &main,
            format!(
                "dataDir=/x\nserver.2=a:1:2\ndynamicConfigFile={}\n",
                dynamic.display()
            ),
        )
        .unwrap();
        assert!(Config::from_file(&main).unwrap_err().0.contains("server.2"));
        std::fs::write(&dynamic, "tickTime=5\n").unwrap();
        std::fs::write(
            &main,
            format!("dataDir=/x\ndynamicConfigFile={}\n", dynamic.display()),
        )
        .unwrap();
        assert!(Config::from_file(&main).unwrap_err().0.contains("tickTime"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
