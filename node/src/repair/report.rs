//! What the repair service reports: the plan of moves (`rebalance plan`) with
//! per-peer load, and its status (`rebalance status`).

use serde::{Deserialize, Serialize};
use shardnet_protocol::ShardId;

/// One planned copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedMove {
    pub shard: ShardId,
    pub from: String,
    pub to: String,
    pub bytes: u64,
    pub reason: String,
}

/// A peer's load as the view reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerLoad {
    pub peer: String,
    pub zone: String,
    pub used: u64,
    pub capacity: u64,
    /// Percent above (+) or below (-) the mean utilisation.
    pub deviation_pct: f64,
    /// "ok", "warn" (above 20%) or "act" (above 35%).
    pub level: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub at: u64,
    pub shards: u64,
    pub moves: Vec<PlannedMove>,
    /// Local copies that are (or would be) quarantined as redundant.
    pub removals: Vec<ShardId>,
    /// Quarantined copies purged (or that would be).
    #[serde(default)]
    pub purged: Vec<ShardId>,
    /// Quarantined copies brought back to healthy: too few proven elsewhere.
    #[serde(default)]
    pub restored: Vec<ShardId>,
    /// Quarantined copies still waiting for their grace period.
    #[serde(default)]
    pub quarantine_waiting: u64,
    /// Shards by proven copies (index: copies) among those this scan
    /// decided on: the replication coverage this node sees.
    #[serde(default)]
    pub coverage: Vec<u64>,
    /// Possession proofs this scan asked for.
    #[serde(default)]
    pub proofs: u64,
    pub repair_bytes: u64,
    pub handoff_bytes: u64,
    /// Shards with fewer healthy copies than wanted.
    pub below_target: u64,
    /// Shards whose copies cannot be completed now (too few live peers).
    pub blocked: u64,
    /// Shards below target that wait for a silent holder keeping its place
    /// (`protocol::patience`): nothing is copied in its stead yet.
    #[serde(default)]
    pub waiting_for_silent: u64,
    pub eta_secs: Option<f64>,
    pub load: Vec<PeerLoad>,
    pub churn_threshold: f64,
    /// Fraction of known peers not live.
    pub churn: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RepairStatus {
    pub paused: bool,
    pub parallel: usize,
    pub bandwidth: u64,
    pub queued: u64,
    pub queued_bytes: u64,
    pub in_flight: u64,
    pub transfers_done: u64,
    pub bytes_moved: u64,
    pub failures: u64,
    /// Copies quarantined as redundant since start.
    pub removed: u64,
    /// Quarantined copies purged since start.
    #[serde(default)]
    pub purged: u64,
    pub draining: bool,
    /// Healthy local shards.
    pub local_shards: u64,
    /// Local copies in quarantine (bytes kept, not served).
    #[serde(default)]
    pub quarantined: u64,
    pub eta_secs: Option<f64>,
    pub last_scan: Option<Plan>,
    /// Possession-proof rounds this node ran since start.
    #[serde(default)]
    pub audits: crate::audit::AuditCounters,
    /// Handoff waits for the maintenance window that opens then (Unix
    /// time); repair never waits.
    #[serde(default)]
    pub handoff_waits_until: Option<u64>,
}
