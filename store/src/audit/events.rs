//! What the audit trail records: the actions, one event, the filter a query
//! uses, and the report of a chain check.

use serde::{Deserialize, Serialize};
use shardnet_protocol::ShardId;

/// What happened. JSON names are the command line's (`lease-extended`);
/// the stored form is the variant's index, so new actions go last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A shard was stored for the first time.
    Stored,
    /// A lease was added or extended on a stored shard.
    LeaseExtended,
    /// A read found the shard's bytes do not match its id.
    MarkedCorrupted,
    /// A corrupted shard was overwritten with verified bytes.
    Repaired,
    /// A backup entry was added to the catalogue.
    BackupAdded,
    /// A copy was removed because enough healthy copies are confirmed elsewhere
    /// (earlier versions deleted at once; now copies go to quarantine first).
    RemovedRedundant,
    /// A copy left service (redundant, shed or drained) but keeps its bytes
    /// until the copies elsewhere have passed proofs for the grace period.
    Quarantined,
    /// A quarantined copy went back to healthy (copies elsewhere failed).
    Unquarantined,
    /// A quarantined copy's bytes were deleted; the detail names the proofs.
    Purged,
    /// The operator isolated a peer by hand.
    PeerIsolated,
    /// The operator lifted a peer's isolation.
    PeerUnisolated,
    /// A scrub found a shard's bytes bad or missing.
    ScrubFound,
    /// The node started; the detail is its configuration.
    NodeStarted,
    /// The operator started draining the node.
    DrainStarted,
    /// The operator paused repair and rebalancing.
    RebalancePaused,
    /// The operator resumed repair and rebalancing.
    RebalanceResumed,
    /// The operator paused the background scrub.
    ScrubPaused,
    /// The operator started a scrub pass (or resumed the paced scrub).
    ScrubStarted,
    /// Events older than the audit retention were removed.
    AuditTrimmed,
    /// An owner's signed release dropped its lease on a shard.
    LeaseReleased,
    /// The owner deleted a backup (its catalogue entry gave way to a tombstone).
    BackupDeleted,
    /// The owner key was rotated: a backup's entry moved to the new key's.
    KeyRotated,
    /// Settings changed while running (`config set`, SIGHUP).
    ConfigChanged,
    /// The operator ended a drain.
    DrainCancelled,
}

impl AuditAction {
    /// Every action (new ones go last: the stored form is the index).
    pub const ALL: [AuditAction; 24] = [
        AuditAction::Stored,
        AuditAction::LeaseExtended,
        AuditAction::MarkedCorrupted,
        AuditAction::Repaired,
        AuditAction::BackupAdded,
        AuditAction::RemovedRedundant,
        AuditAction::Quarantined,
        AuditAction::Unquarantined,
        AuditAction::Purged,
        AuditAction::PeerIsolated,
        AuditAction::PeerUnisolated,
        AuditAction::ScrubFound,
        AuditAction::NodeStarted,
        AuditAction::DrainStarted,
        AuditAction::RebalancePaused,
        AuditAction::RebalanceResumed,
        AuditAction::ScrubPaused,
        AuditAction::ScrubStarted,
        AuditAction::AuditTrimmed,
        AuditAction::LeaseReleased,
        AuditAction::BackupDeleted,
        AuditAction::KeyRotated,
        AuditAction::ConfigChanged,
        AuditAction::DrainCancelled,
    ];

    /// The action's name on the command line and in human output.
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Stored => "stored",
            AuditAction::LeaseExtended => "lease-extended",
            AuditAction::MarkedCorrupted => "marked-corrupted",
            AuditAction::Repaired => "repaired",
            AuditAction::BackupAdded => "backup-added",
            AuditAction::RemovedRedundant => "removed-redundant",
            AuditAction::Quarantined => "quarantined",
            AuditAction::Unquarantined => "unquarantined",
            AuditAction::Purged => "purged",
            AuditAction::PeerIsolated => "peer-isolated",
            AuditAction::PeerUnisolated => "peer-unisolated",
            AuditAction::ScrubFound => "scrub-found",
            AuditAction::NodeStarted => "node-started",
            AuditAction::DrainStarted => "drain-started",
            AuditAction::RebalancePaused => "rebalance-paused",
            AuditAction::RebalanceResumed => "rebalance-resumed",
            AuditAction::ScrubPaused => "scrub-paused",
            AuditAction::ScrubStarted => "scrub-started",
            AuditAction::AuditTrimmed => "audit-trimmed",
            AuditAction::LeaseReleased => "lease-released",
            AuditAction::BackupDeleted => "backup-deleted",
            AuditAction::KeyRotated => "key-rotated",
            AuditAction::ConfigChanged => "config-changed",
            AuditAction::DrainCancelled => "drain-cancelled",
        }
    }
}

impl std::str::FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
                format!("unknown audit action {s:?}; one of: {}", names.join(", "))
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    pub action: AuditAction,
    pub shard: Option<ShardId>,
    pub detail: String,
}

/// Which events [`Store::audit_query`] returns: the newest `limit` that
/// match every filter given, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Unix seconds: events at or after.
    pub since: Option<u64>,
    pub action: Option<AuditAction>,
    pub shard: Option<ShardId>,
    pub limit: usize,
}

impl AuditFilter {
    pub(super) fn matches(&self, e: &AuditEvent) -> bool {
        self.action.is_none_or(|a| a == e.action) && self.shard.is_none_or(|s| e.shard == Some(s))
    }
}

/// What `audit verify` found in the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub events: u64,
    /// Events written before this store kept a chain (older versions).
    pub unchained: u64,
    /// The newest event and its link hash (hex): record it to check later
    /// that nothing before it was rewritten.
    pub head_seq: Option<u64>,
    pub head_hash: Option<String>,
    /// First sequence number after each run of missing events.
    pub gaps: Vec<u64>,
    /// Events whose bytes or link do not match the chain (at most 100).
    pub broken: Vec<u64>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }
}

pub(crate) use crate::db::CF_AUDIT_CHAIN;
