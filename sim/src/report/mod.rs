//! The report both modes produce: a summary, a time series, a human table and
//! an SVG plot (durability and repair traffic over the run) written next to
//! the JSON, so a person can see what happened without a plotting tool.

use serde::Serialize;
use std::path::Path;

mod plot;
mod table;

/// One moment of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sample {
    /// Seconds since the start (simulated in model mode, wall in live mode).
    pub t: f64,
    pub nodes_up: usize,
    pub shards_below_target: u64,
    pub shards_lost: u64,
    pub backups_lost: u64,
    /// Share of backups whose every shard has a copy on an online node.
    pub availability: f64,
    /// Bytes copied by repair and handoff so far.
    pub repair_bytes: u64,
    /// (max - min) / mean utilisation over online nodes.
    pub spread: f64,
}

/// Per-tier outcome.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TierOutcome {
    pub tier: String,
    /// Its redundancy (`replicate 3`, `rs 4+3`).
    pub scheme: String,
    pub backups: u64,
    pub shards: u64,
    pub shards_lost: u64,
    pub backups_lost: u64,
    /// Shard-hours spent below the tier's copy count.
    pub shard_hours_below_target: f64,
}

/// Live mode: what membership costs, measured over a quiet window after the
/// swarm converged (see `live::traffic`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct MembershipTraffic {
    pub nodes: usize,
    pub heartbeat_secs: f64,
    /// How often an unchanged node republished its heartbeat.
    pub refresh_secs: f64,
    pub window_secs: f64,
    /// Bytes each node sent on average per second (each byte sent is also
    /// received by one node: the same figure inbound).
    pub bytes_per_node_sec: f64,
    /// How often each node reconciled its member list by digest.
    pub digest_secs: f64,
    /// What hearing one member's gossiped heartbeat costs a node, gossip
    /// copies, control and framing included (measured on 100 live nodes
    /// with a mesh of 6; the mesh is 4 now, so an upper bound).
    pub bytes_per_heartbeat_heard: f64,
    pub connections_mean: f64,
    pub connections_max: usize,
}

impl MembershipTraffic {
    /// Bytes per node per second with `nodes` in the view and a refresh
    /// every `refresh_secs`: what was measured here (no refresh fell in the
    /// window, so nothing in it grows with the swarm to first order: probes
    /// of 16 neighbours, changes, digests, pings, Kademlia upkeep), plus
    /// hearing each other member's refresh once per `refresh_secs`.
    pub fn projected(&self, nodes: usize, refresh_secs: f64) -> f64 {
        self.bytes_per_node_sec
            + self.bytes_per_heartbeat_heard * nodes.saturating_sub(1) as f64
                / refresh_secs.max(1e-9)
    }
}

/// Model mode: what membership would cost each node in this run, under the
/// full view of today and under change dissemination with direct checks
/// (`protocol::membership_cost`, `docs/membership.md`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct MembershipModel {
    /// Mean nodes online.
    pub nodes: f64,
    /// Changes spread (joins, drains, leaves, silences, returns, downs) per
    /// node per day, and direct checks by co-holders per node per day.
    pub changes_per_node_day: f64,
    pub checks_per_node_day: f64,
    /// Bytes per node per second: full view (2 s heartbeat, the cost per
    /// peer measured live), and change dissemination with its parts.
    pub full_view_bytes_per_node_sec: f64,
    pub dissemination: shardnet_protocol::membership_cost::Cost,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub mode: String,
    pub seed: u64,
    pub placement: String,
    /// How long silent holders keep their places (`lazy` or `eager`).
    pub policy: String,
    /// `replicate` (each tier's copies) or `rs K` (Reed–Solomon with K data
    /// pieces; each tier's scheme is in `tiers`).
    pub redundancy: String,
    pub simulated_secs: f64,
    pub wall_secs: f64,
    /// Live mode: how long the swarm took after the scenario's end to finish
    /// its moves before the final census.
    pub settle_secs: f64,
    pub nodes_start: usize,
    pub nodes_end: usize,
    pub nodes_peak: usize,
    pub joins: u64,
    pub crashes: u64,
    pub graceful_departures: u64,
    pub outages: u64,
    pub zone_outages: u64,
    pub corruptions: u64,
    /// Model mode: lying nodes, those isolated, and hours from a liar's first
    /// copy to its isolation.
    pub liars: u64,
    pub liars_isolated: u64,
    pub isolation_hours_mean: f64,
    pub isolation_hours_max: f64,
    /// Model mode: shards whose every starting copy was on a liar.
    pub shards_placed_only_on_liars: u64,
    /// Model mode: extra copies the trusted floor placed (`swarm.trusted`).
    pub trusted_floor_copies: u64,
    /// Model mode: failed audits (each drops a liar's copy).
    pub audit_failures: u64,
    /// Model mode: bytes read by holders and challengers for audits.
    pub audit_read_bytes: u64,
    pub logical_bytes: u64,
    pub stored_bytes_end: u64,
    /// Stored bytes / logical bytes at the end.
    pub storage_overhead: f64,
    pub repair_bytes: u64,
    /// Model mode: of `repair_bytes`, the handoffs: copies moved to a
    /// responsible peer from a holder outside the set (joiners, drains).
    #[serde(default)]
    pub handoff_bytes: u64,
    /// Repair traffic per 30 days as a share of the logical data.
    pub repair_share_per_month: f64,
    /// Of that, the handoffs' share.
    #[serde(default)]
    pub handoff_share_per_month: f64,
    pub repair_bytes_per_node_mean: f64,
    pub repair_bytes_per_node_max: u64,
    /// Repair and handoff bytes sent by each node (index = node number).
    pub repair_bytes_by_node: Vec<u64>,
    pub min_availability: f64,
    pub mean_availability: f64,
    pub restores_attempted: u64,
    pub restores_ok: u64,
    pub spread_end: f64,
    pub tiers: Vec<TierOutcome>,
    /// Model mode: discrete events processed.
    pub events: u64,
    /// Model mode: simulated node-days per wall second.
    pub node_days_per_sec: f64,
    pub series: Vec<Sample>,
    /// Live mode: membership traffic and connections after convergence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipTraffic>,
    /// Model mode: membership cost projected from the run's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_model: Option<MembershipModel>,
    /// Final online holders per shard (shard id hex -> node numbers), for
    /// comparing modes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_end: Vec<(String, Vec<usize>)>,
}

impl Report {
    /// Fills the derived figures: repair traffic per month as a share of the
    /// data, availability at its lowest and on average, the spread at the end.
    pub fn summarise_series(&mut self) {
        let months = self.simulated_secs / (30.0 * 86_400.0);
        let per_month = |b: u64| b as f64 / self.logical_bytes.max(1) as f64 / months.max(1e-9);
        self.repair_share_per_month = per_month(self.repair_bytes);
        self.handoff_share_per_month = per_month(self.handoff_bytes);
        let av: Vec<f64> = self.series.iter().map(|s| s.availability).collect();
        self.min_availability = av.iter().copied().fold(1.0, f64::min);
        self.mean_availability = av.iter().sum::<f64>() / av.len().max(1) as f64;
        self.spread_end = self.series.last().map_or(0.0, |s| s.spread);
    }

    /// Writes `<stem>.json` and `<stem>.svg`.
    pub fn write(&self, stem: &Path) -> std::io::Result<(std::path::PathBuf, std::path::PathBuf)> {
        if let Some(dir) = stem.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let json = stem.with_extension("json");
        let svg = stem.with_extension("svg");
        std::fs::write(
            &json,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::write(&svg, self.svg())?;
        Ok((json, svg))
    }
}

/// (max - min) / mean utilisation.
pub fn spread(it: impl Iterator<Item = (u64, u64)>) -> f64 {
    let u: Vec<f64> = it
        .filter(|(_, c)| *c > 0)
        .map(|(used, c)| used as f64 / c as f64)
        .collect();
    if u.is_empty() {
        return 0.0;
    }
    let mean = u.iter().sum::<f64>() / u.len() as f64;
    let (min, max) = u
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    if mean > 0.0 {
        (max - min) / mean
    } else {
        0.0
    }
}

pub(super) fn size(b: u64) -> String {
    bytesize::ByteSize::b(b).display().iec().to_string()
}

pub(super) fn pct(f: f64) -> String {
    format!("{:.3}%", f * 100.0)
}

/// `90.0 days`, or `30s` below a day.
pub(super) fn span(secs: f64) -> String {
    if secs >= 86_400.0 {
        format!("{:.1} days", secs / 86_400.0)
    } else {
        humantime::format_duration(std::time::Duration::from_secs(secs as u64)).to_string()
    }
}
