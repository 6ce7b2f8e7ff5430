//! What the proof auditor counts and reports: a proof's state per (peer, shard),
//! the counters the metrics export, and a peer's reputation row.

use serde::{Deserialize, Serialize};
use shardnet_store::EvidenceRecord;
use std::sync::atomic::{AtomicU64, Ordering};

/// What this node knows about one copy on one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProofState {
    /// Start of the current unbroken run of passed proofs.
    pub passing_since: Option<u64>,
    pub last_ok: u64,
    pub last_fail: u64,
    pub last_checked: u64,
}

impl ProofState {
    /// Passed at or after `t`, and not failed since.
    pub fn proven_since(&self, t: u64) -> bool {
        self.last_ok >= t && self.last_ok >= self.last_fail && self.passing_since.is_some()
    }
}

/// Rounds in a row a peer may answer `Busy` before that counts as a timed-out
/// audit: a holder that is always busy would otherwise never be proven nor
/// fail, and its place in the responsible set would stay unfilled.
pub const BUSY_ROUNDS: u32 = 3;

#[derive(Debug, Default)]
pub struct AuditStats {
    pub rounds: AtomicU64,
    pub proofs_passed: AtomicU64,
    pub proofs_failed: AtomicU64,
    pub timeouts: AtomicU64,
    /// Of `timeouts`, those while this node lagged (counted as `Busy`).
    pub timeouts_excused: AtomicU64,
    /// Shard bytes peers had to read to answer this node's challenges.
    pub bytes_challenged: AtomicU64,
    /// Shard bytes this node read to check answers.
    pub bytes_checked: AtomicU64,
    /// Rounds a peer answered `Busy`.
    pub busy: AtomicU64,
}

/// The audit counters since start, as `rebalance status` shows them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditCounters {
    pub rounds: u64,
    pub proofs_passed: u64,
    pub proofs_failed: u64,
    pub timeouts: u64,
    /// Of `timeouts`, those while this node lagged (counted as `Busy`).
    #[serde(default)]
    pub timeouts_excused: u64,
    pub busy: u64,
    pub bytes_challenged: u64,
    pub bytes_checked: u64,
}

impl AuditStats {
    pub fn snapshot(&self) -> AuditCounters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AuditCounters {
            rounds: g(&self.rounds),
            proofs_passed: g(&self.proofs_passed),
            proofs_failed: g(&self.proofs_failed),
            timeouts: g(&self.timeouts),
            timeouts_excused: g(&self.timeouts_excused),
            busy: g(&self.busy),
            bytes_challenged: g(&self.bytes_challenged),
            bytes_checked: g(&self.bytes_checked),
        }
    }
}

/// A peer's reputation as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerReputation {
    pub peer: String,
    pub score: f64,
    /// vetting, good, warned, isolated; or trusted (by the operator, not
    /// vetted yet).
    pub standing: String,
    pub passed: u64,
    pub failed: u64,
    pub manual_isolation: bool,
    pub last_at: u64,
    /// Newest evidence, oldest first (with `--why`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceRecord>,
}
