//! Node configuration: `config.toml` in the data dir, overridden by flags.
//! Resolved once at start-up into [`NodeConfig`] and passed down.

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use shardnet_protocol::admission;
use std::path::Path;
use std::time::Duration;

mod defaults;
mod parse;

pub use defaults::*;
use parse::{duration_or, parse_addr, parse_size, read_swarm_key};

/// The lifecycle rules of `config.toml` in `data_dir` (none without one),
/// checked. Read at every backup, so that a changed rule needs no restart.
pub fn lifecycle_rules(
    data_dir: &Path,
) -> Result<shardnet_protocol::lifecycle::Rules, ConfigError> {
    let file = read_file(data_dir)?;
    shardnet_protocol::lifecycle::Rules::new(&file.lifecycle.unwrap_or_default()).map_err(|e| {
        ConfigError::File {
            path: data_dir.join(CONFIG_FILE).display().to_string(),
            reason: e.to_string(),
        }
    })
}

/// How backups keep their file chunks (`redundancy` in `config.toml`,
/// replicate without one). Read at every backup, as the lifecycle rules.
pub fn redundancy(data_dir: &Path) -> Result<shardnet_protocol::redundancy::Policy, ConfigError> {
    Ok(read_file(data_dir)?.redundancy.unwrap_or_default())
}

pub const CONFIG_FILE: &str = "config.toml";

/// `config.toml` in `data_dir`, or every field unset when there is none.
pub fn read_file(data_dir: &Path) -> Result<FileConfig, ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => toml::from_str(&t).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The file form; every field optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<Vec<String>>,
    pub bootstrap: Option<Vec<String>>,
    pub zone: Option<String>,
    pub capacity: Option<String>,
    pub quota_per_owner: Option<String>,
    pub heartbeat_ms: Option<u64>,
    pub membership_refresh_secs: Option<u64>,
    pub membership_digest_secs: Option<u64>,
    pub api_port: Option<u16>,
    pub down_after_secs: Option<u64>,
    pub patience_max_secs: Option<u64>,
    pub scan_interval_secs: Option<u64>,
    pub parallel: Option<usize>,
    /// Repair and handoff together, bytes per second.
    pub bandwidth_limit: Option<String>,
    /// Shard bytes sent (stores made, fetches answered) per second.
    pub bandwidth_upload: Option<String>,
    /// Shard bytes fetched per second.
    pub bandwidth_download: Option<String>,
    pub bandwidth_repair: Option<String>,
    pub bandwidth_handoff: Option<String>,
    pub bandwidth_backup: Option<String>,
    /// When handoff, rebalancing and the scrub may run (UTC, e.g.
    /// `["mon-fri 22:00-06:00", "sat,sun 00:00-24:00"]`); none: always.
    pub maintenance_windows: Option<Vec<String>>,
    pub audit_interval: Option<String>,
    pub quarantine_grace: Option<String>,
    pub vetting_proofs: Option<u64>,
    pub scrub_period: Option<String>,
    pub scrub_tranquility: Option<u32>,
    pub trusted_peers: Option<Vec<String>>,
    pub forget_after: Option<String>,
    pub audit_retention: Option<String>,
    pub swarm_key: Option<String>,
    pub id_difficulty: Option<u8>,
    /// Done prune jobs are purged this long after they ran (default 7d).
    pub prune_purge_after: Option<String>,
    /// Where to serve Prometheus metrics and `/health` (off when absent).
    pub metrics_listen: Option<String>,
    /// Resident memory of the process above which the node takes no new
    /// connections (default 1GiB; many nodes in one process need more).
    pub max_memory: Option<String>,
    /// Lifecycle rules: a path glob to a tier, or to days and copies
    /// (`[[lifecycle]]` tables; read at every backup).
    pub lifecycle: Option<Vec<shardnet_protocol::lifecycle::Rule>>,
    /// `replicate`, `rs` or `rs K+M`: how backups keep file chunks (read at
    /// every backup; `backup create --redundancy` overrides it).
    pub redundancy: Option<shardnet_protocol::redundancy::Policy>,
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub zone: String,
    pub capacity: u64,
    pub quota_per_owner: u64,
    pub heartbeat: Duration,
    /// Longest this node stays silent on the membership topic while its
    /// heartbeat does not change (0: a heartbeat every period).
    pub membership_refresh: Duration,
    /// How often this node reconciles its member list with one connected
    /// peer by digest (`protocol::digest`; 0: never).
    pub membership_digest: Duration,
    /// Port of the control API on 127.0.0.1 (0: any free port).
    pub api_port: u16,
    pub down_after: Duration,
    /// The most patience a silent peer earns (`protocol::patience`), and the
    /// peers of a partitioned zone get.
    pub patience_max: Duration,
    pub scan_interval: Duration,
    pub parallel: usize,
    /// Bandwidth limits, bytes per second; 0 = unlimited.
    pub limits: crate::live::Limits,
    pub windows: shardnet_protocol::window::Windows,
    /// The flags of `node run` (they win over the file until a restart).
    pub flags: Overrides,
    pub audit_interval: Duration,
    pub quarantine_grace: Duration,
    pub vetting_proofs: u64,
    pub scrub_period: Duration,
    pub scrub_tranquility: u32,
    /// Peers trusted from the start (the operator's own nodes): they need
    /// no vetting, and a backup keeps a copy of every shard on one of them
    /// (or on a vetted peer) whatever its other holders are.
    pub trusted_peers: Vec<libp2p::PeerId>,
    /// A peer down for this long (after `down_after`) leaves the view.
    pub forget_after: Duration,
    /// Audit events older than this are removed.
    pub audit_retention: Duration,
    /// A private swarm's pre-shared key (`--swarm-key FILE`).
    pub swarm_key: Option<libp2p::pnet::PreSharedKey>,
    /// Bits of admission work a peer id must carry to count in responsible
    /// sets (`protocol::admission`); the same on every node of a swarm.
    pub id_difficulty: u8,
    pub prune_purge_after: Duration,
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Resident memory of the process above which no new connections are
    /// taken (existing ones go on).
    pub max_memory: u64,
    /// How backups keep file chunks (read again from the file at every
    /// backup; shown by `config get`).
    pub redundancy: shardnet_protocol::redundancy::Policy,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("invalid {what} {value:?}: {reason}")]
    Value {
        what: &'static str,
        value: String,
        reason: String,
    },
}

pub type Overrides = FileConfig;

impl NodeConfig {
    /// Reads `config.toml` from `data_dir` (if present) and applies `o` on top.
    pub fn load(data_dir: &Path, o: Overrides) -> Result<NodeConfig, ConfigError> {
        // Bad lifecycle rules stop the start, not the first backup.
        lifecycle_rules(data_dir)?;
        Self::resolve(read_file(data_dir)?, o)
    }

    /// `file` with `o` on top, every value checked.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<NodeConfig, ConfigError> {
        shardnet_protocol::lifecycle::Rules::new(file.lifecycle.as_deref().unwrap_or_default())
            .map_err(|e| ConfigError::Value {
                what: "lifecycle rules",
                value: String::new(),
                reason: e.to_string(),
            })?;
        let flags = o.clone();
        let size = |what: &'static str, a: Option<String>, b: Option<String>| match a.or(b) {
            Some(s) => parse_size(what, &s),
            None => Ok(0),
        };
        let limits = crate::live::Limits {
            upload: size(
                "bandwidth_upload",
                o.bandwidth_upload,
                file.bandwidth_upload,
            )?,
            download: size(
                "bandwidth_download",
                o.bandwidth_download,
                file.bandwidth_download,
            )?,
            transfers: size("bandwidth_limit", o.bandwidth_limit, file.bandwidth_limit)?,
            repair: size(
                "bandwidth_repair",
                o.bandwidth_repair,
                file.bandwidth_repair,
            )?,
            handoff: size(
                "bandwidth_handoff",
                o.bandwidth_handoff,
                file.bandwidth_handoff,
            )?,
            backup: size(
                "bandwidth_backup",
                o.bandwidth_backup,
                file.bandwidth_backup,
            )?,
        };
        let windows = shardnet_protocol::window::Windows::parse(
            &o.maintenance_windows
                .or(file.maintenance_windows)
                .unwrap_or_default(),
        )
        .map_err(|e| ConfigError::Value {
            what: "maintenance_windows",
            value: e.text.clone(),
            reason: e.to_string(),
        })?;
        let listen = o
            .listen
            .or(file.listen)
            .unwrap_or_else(|| vec![DEFAULT_LISTEN.into()]);
        let bootstrap = o.bootstrap.or(file.bootstrap).unwrap_or_default();
        Ok(NodeConfig {
            listen: listen
                .iter()
                .map(|s| parse_addr("listen address", s))
                .collect::<Result<_, _>>()?,
            bootstrap: bootstrap
                .iter()
                .map(|s| parse_addr("bootstrap address", s))
                .collect::<Result<_, _>>()?,
            zone: match o.zone.or(file.zone) {
                Some(z) if z.is_empty() || z.len() > 64 => {
                    return Err(ConfigError::Value {
                        what: "zone",
                        value: z,
                        reason: "a zone name has 1 to 64 bytes".into(),
                    })
                }
                Some(z) => z,
                None => "default".into(),
            },
            capacity: match o.capacity.or(file.capacity) {
                Some(s) => parse_size("capacity", &s)?,
                None => DEFAULT_CAPACITY,
            },
            quota_per_owner: match o.quota_per_owner.or(file.quota_per_owner) {
                Some(s) => parse_size("quota per owner", &s)?,
                None => DEFAULT_QUOTA,
            },
            heartbeat: Duration::from_millis(
                o.heartbeat_ms
                    .or(file.heartbeat_ms)
                    .unwrap_or(DEFAULT_HEARTBEAT.as_millis() as u64)
                    .max(100),
            ),
            membership_refresh: o
                .membership_refresh_secs
                .or(file.membership_refresh_secs)
                .map_or(DEFAULT_MEMBERSHIP_REFRESH, Duration::from_secs),
            membership_digest: o
                .membership_digest_secs
                .or(file.membership_digest_secs)
                .map_or(DEFAULT_MEMBERSHIP_DIGEST, Duration::from_secs),
            api_port: o.api_port.or(file.api_port).unwrap_or(0),
            down_after: o
                .down_after_secs
                .or(file.down_after_secs)
                .map_or(DEFAULT_DOWN_AFTER, Duration::from_secs),
            patience_max: o
                .patience_max_secs
                .or(file.patience_max_secs)
                .map_or(DEFAULT_PATIENCE_MAX, Duration::from_secs),
            scan_interval: o
                .scan_interval_secs
                .or(file.scan_interval_secs)
                .map_or(DEFAULT_SCAN_INTERVAL, |s| Duration::from_secs(s.max(1))),
            parallel: o
                .parallel
                .or(file.parallel)
                .unwrap_or(DEFAULT_PARALLEL)
                .max(1),
            limits,
            windows,
            flags,
            audit_interval: duration_or(
                "audit interval",
                o.audit_interval.or(file.audit_interval),
                DEFAULT_AUDIT_INTERVAL,
            )?
            .max(Duration::from_secs(1)),
            quarantine_grace: duration_or(
                "quarantine grace",
                o.quarantine_grace.or(file.quarantine_grace),
                DEFAULT_QUARANTINE_GRACE,
            )?,
            vetting_proofs: o
                .vetting_proofs
                .or(file.vetting_proofs)
                .unwrap_or(DEFAULT_VETTING_PROOFS),
            scrub_period: duration_or(
                "scrub period",
                o.scrub_period.or(file.scrub_period),
                DEFAULT_SCRUB_PERIOD,
            )?
            .max(Duration::from_secs(1)),
            scrub_tranquility: o
                .scrub_tranquility
                .or(file.scrub_tranquility)
                .unwrap_or(DEFAULT_SCRUB_TRANQUILITY),
            swarm_key: match o.swarm_key.or(file.swarm_key) {
                Some(path) => Some(read_swarm_key(&path)?),
                None => None,
            },
            id_difficulty: match o.id_difficulty.or(file.id_difficulty) {
                Some(d) if d > admission::MAX_DIFFICULTY => {
                    return Err(ConfigError::Value {
                        what: "id difficulty",
                        value: d.to_string(),
                        reason: format!("at most {}", admission::MAX_DIFFICULTY),
                    })
                }
                Some(d) => d,
                None => admission::DEFAULT_DIFFICULTY,
            },
            forget_after: duration_or(
                "forget-after",
                o.forget_after.or(file.forget_after),
                DEFAULT_FORGET_AFTER,
            )?,
            audit_retention: duration_or(
                "audit-retention",
                o.audit_retention.or(file.audit_retention),
                DEFAULT_AUDIT_RETENTION,
            )?,
            prune_purge_after: duration_or(
                "prune-purge-after",
                o.prune_purge_after.or(file.prune_purge_after),
                DEFAULT_PRUNE_PURGE_AFTER,
            )?,
            redundancy: o.redundancy.or(file.redundancy).unwrap_or_default(),
            max_memory: match o.max_memory.or(file.max_memory) {
                Some(s) => parse_size("max memory", &s)?,
                None => DEFAULT_MAX_MEMORY,
            },
            metrics_listen: match o.metrics_listen.or(file.metrics_listen) {
                Some(a) => {
                    Some(
                        a.parse()
                            .map_err(|e: std::net::AddrParseError| ConfigError::Value {
                                what: "metrics listen address",
                                value: a.clone(),
                                reason: format!("{e}; give IP:PORT, e.g. 127.0.0.1:9464"),
                            })?,
                    )
                }
                None => None,
            },
            trusted_peers: o
                .trusted_peers
                .or(file.trusted_peers)
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    s.parse()
                        .map_err(|e: libp2p::identity::ParseError| ConfigError::Value {
                            what: "trusted peer id",
                            value: s.clone(),
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests;
