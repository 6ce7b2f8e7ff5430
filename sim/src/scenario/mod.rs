//! Scenario files: one TOML format for both modes, so a scenario can be run
//! fast in the model and then checked against real nodes.
//!
//! Sizes are strings such as `"64MiB"`, durations `"90s"`, `"6h"`, `"30d"`,
//! bandwidths `"50MB/s"`. Unknown keys are errors (a typo must not silently
//! run a different experiment), and every error names the file and the field.

use serde::Deserialize;
use shardnet_protocol::redundancy::{self, Scheme};
use shardnet_protocol::Tier;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("scenario {path}: {field}: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

/// A parsed and checked scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Simulated time (model) or wall time after the initial backups (live).
    #[serde(with = "dur")]
    pub duration: Duration,
    #[serde(default)]
    pub seed: u64,
    /// `model` (default) or `live`; `--mode` overrides.
    #[serde(default)]
    pub mode: Mode,
    /// Interval between report samples; default duration / 200.
    #[serde(default, with = "opt_dur")]
    pub sample_every: Option<Duration>,
    pub swarm: SwarmSpec,
    #[serde(default)]
    pub backups: Vec<BackupSpec>,
    #[serde(default)]
    pub churn: Churn,
    #[serde(default)]
    pub events: Vec<Event>,
    /// Run the model a second time with zone-blind placement and report both.
    #[serde(default)]
    pub compare_zone_blind: bool,
    /// Model: run again with the eager repair policy and report both (set
    /// `swarm.patience_max` too, or both policies are the same).
    #[serde(default)]
    pub compare_policies: bool,
    /// Model: run again with the other redundancy (Reed–Solomon at equal
    /// durability, or replication) and report both.
    #[serde(default)]
    pub compare_redundancy: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Model,
    Live,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    pub nodes: usize,
    #[serde(default = "one")]
    pub zones: usize,
    #[serde(with = "size")]
    pub capacity: u64,
    /// Per-node transfer rate (model transfer times; live: repair bandwidth limit).
    #[serde(default = "default_bandwidth", with = "rate")]
    pub bandwidth: u64,
    #[serde(default = "default_down_after", with = "dur")]
    pub down_after: Duration,
    /// Model: how long silent holders keep their places (`protocol::patience`).
    #[serde(default)]
    pub policy: Policy,
    /// The longest a silent peer keeps its places (while shards keep their
    /// floor), the most patience a peer earns, and a partitioned zone's
    /// (`protocol::patience`). Default `down_after`: no laziness at all.
    #[serde(default, with = "opt_dur")]
    pub patience_max: Option<Duration>,
    /// Placement spreads copies over zones (false: plain XOR distance).
    #[serde(default = "yes")]
    pub zone_aware: bool,
    /// Model mode: size of a modelled shard (real shards average 1 MiB; a larger
    /// modelled shard stands for several, to reach petabytes in minutes).
    #[serde(default = "default_shard", with = "size")]
    pub shard_size: u64,
    /// The first `trusted` nodes are the operator's own, trusted from the
    /// start (`--trust-peer`): never liars, and every new shard keeps a copy
    /// on one of them unless a holder is trusted already (the trusted floor).
    #[serde(default)]
    pub trusted: usize,
    /// Model: `replicate` (as the node: each tier's copies) or `rs`
    /// (Reed–Solomon, `rs_data` data pieces and the parity that matches the
    /// tier's copies in durability, `protocol::redundancy::matching`).
    #[serde(default)]
    pub redundancy: Redundancy,
    /// Data pieces per shard with `redundancy = "rs"`.
    #[serde(default = "default_rs_data")]
    pub rs_data: u8,
}

/// How a shard's bytes are made redundant (`protocol::redundancy`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Redundancy {
    #[default]
    Replicate,
    Rs,
}

impl SwarmSpec {
    /// The scheme a shard of `tier` gets.
    pub fn scheme(&self, tier: Tier) -> Scheme {
        let copies = tier.copies() as usize;
        match self.redundancy {
            Redundancy::Replicate => redundancy::matching(copies, 1, redundancy::P_REF),
            Redundancy::Rs => {
                redundancy::matching(copies, self.rs_data as usize, redundancy::P_REF)
            }
        }
    }

    /// The other redundancy, for `compare_redundancy`.
    pub fn other_redundancy(&self) -> Redundancy {
        match self.redundancy {
            Redundancy::Replicate => Redundancy::Rs,
            Redundancy::Rs => Redundancy::Replicate,
        }
    }
}

/// How long a silent holder keeps its place in a shard's responsible set.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// As the node does: adaptive patience per peer, partitions, and
    /// per-copy-count floors (`protocol::patience`).
    #[default]
    Lazy,
    /// Every silent peer is down after `down_after` and its copies re-made
    /// (the policy before `protocol::patience`).
    Eager,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Lazy => "lazy",
            Policy::Eager => "eager",
        }
    }
}

impl SwarmSpec {
    /// `patience_max`, `down_after` when unset.
    pub fn patience_max(&self) -> Duration {
        self.patience_max
            .unwrap_or(self.down_after)
            .max(self.down_after)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    #[serde(deserialize_with = "tier")]
    pub tier: Tier,
    #[serde(with = "size")]
    pub size: u64,
    #[serde(default = "one")]
    pub count: usize,
}

/// Random processes (model mode only; live mode runs scripted events).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Poisson arrivals of new nodes.
    #[serde(default)]
    pub joins_per_day: f64,
    /// Mean node lifetime (exponential); departures end it. None: nodes stay.
    #[serde(default, with = "opt_dur")]
    pub mean_lifetime: Option<Duration>,
    /// Share of departures that drain first; the rest lose their disk.
    #[serde(default)]
    pub graceful_fraction: f64,
    /// Transient outages (the node returns with its data).
    #[serde(default)]
    pub outages_per_node_per_day: f64,
    #[serde(default = "default_outage", with = "dur")]
    pub outage_mean: Duration,
    /// Correlated outages: a whole zone goes dark.
    #[serde(default)]
    pub zone_outages_per_day: f64,
    #[serde(default = "default_zone_outage", with = "dur")]
    pub zone_outage_mean: Duration,
    /// Silent corruption, per stored copy per year; found by the next scrub.
    #[serde(default)]
    pub corruption_per_copy_per_year: f64,
    #[serde(default = "default_scrub", with = "dur")]
    pub scrub_interval: Duration,
    /// Share of the starting nodes that lie: they take copies and say they
    /// hold them, but keep nothing (found out by audits). They are there
    /// when the backups are first written; liars that join later come from
    /// `join` events with `liars = true`.
    #[serde(default)]
    pub liar_fraction: f64,
    /// Each copy is re-proved by its co-holders this often (the node's
    /// `--audit-interval`).
    #[serde(default = "default_audit", with = "dur")]
    pub audit_interval: Duration,
}

/// A scripted event. (Unknown keys are caught by `Action`: serde cannot deny
/// them on a struct with a flattened field.)
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    #[serde(with = "dur")]
    pub at: Duration,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The nodes die and their disks are lost.
    Crash {
        nodes: Vec<usize>,
    },
    /// New nodes join (zones round-robin); `liars`: they are lying peers
    /// (model mode only).
    Join {
        count: usize,
        #[serde(default)]
        liars: bool,
    },
    /// The nodes stop (gracefully) and do not return.
    Leave {
        nodes: Vec<usize>,
    },
    /// The nodes drain: hand everything off, then leave.
    Drain {
        nodes: Vec<usize>,
    },
    /// Every node of the zone goes offline (data kept) until `zone_up`.
    ZoneDown {
        zone: usize,
    },
    ZoneUp {
        zone: usize,
    },
    /// `shards` copies on the node turn bad and are found.
    Corrupt {
        node: usize,
        shards: usize,
    },
    /// The node's disk is full: it takes nothing more.
    Fill {
        node: usize,
    },
    /// A restore of every backup is attempted (live: real restores, checked byte for byte).
    Restore,
}

pub fn kind(a: &Action) -> &'static str {
    match a {
        Action::Crash { .. } => "crash",
        Action::Join { .. } => "join",
        Action::Leave { .. } => "leave",
        Action::Drain { .. } => "drain",
        Action::ZoneDown { .. } => "zone_down",
        Action::ZoneUp { .. } => "zone_up",
        Action::Corrupt { .. } => "corrupt",
        Action::Fill { .. } => "fill",
        Action::Restore => "restore",
    }
}

fn tier<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tier, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn default_rs_data() -> u8 {
    4
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn default_bandwidth() -> u64 {
    50_000_000
}
fn default_down_after() -> Duration {
    Duration::from_secs(300)
}
fn default_shard() -> u64 {
    1 << 20
}
fn default_outage() -> Duration {
    Duration::from_secs(3600)
}
fn default_zone_outage() -> Duration {
    Duration::from_secs(6 * 3600)
}
/// No churn at all (a scenario without `[churn]`), with the same defaults as
/// a `[churn]` section that leaves fields out.
impl Default for Churn {
    fn default() -> Self {
        Churn {
            joins_per_day: 0.0,
            mean_lifetime: None,
            graceful_fraction: 0.0,
            outages_per_node_per_day: 0.0,
            outage_mean: default_outage(),
            zone_outages_per_day: 0.0,
            zone_outage_mean: default_zone_outage(),
            corruption_per_copy_per_year: 0.0,
            scrub_interval: default_scrub(),
            liar_fraction: 0.0,
            audit_interval: default_audit(),
        }
    }
}

fn default_audit() -> Duration {
    Duration::from_secs(3 * 86400)
}

fn default_scrub() -> Duration {
    Duration::from_secs(7 * 86400)
}

mod check;
mod units;
use units::{dur, opt_dur, rate, size};

#[cfg(test)]
mod tests;
