//! The append-only audit log: every change of a shard's state or a catalogue is
//! written in the same atomic batch as the change itself, under a monotonically
//! increasing sequence number.

use serde::{Deserialize, Serialize};
use shardnet_protocol::ShardId;

pub(crate) const MAX_AUDIT_LEN: usize = 16 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
