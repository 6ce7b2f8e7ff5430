//! Prune: a plan of the local copies that may leave this node
//! (`protocol::prune::classify`), a job that re-checks every entry and moves
//! the copies to quarantine, and the job's rollback (bytes re-hashed, back to
//! healthy) or purge. Jobs live in the store (`shardnet_store::prune`).
//!
//! Expired and orphaned copies are decided from the local store alone.
//! Corrupted and redundant ones rest on [`Peers`]: copies proven elsewhere
//! just now by this node's own sampled proofs, and this node's place in the
//! shard's responsible set. They are checked when planned, again when the
//! job runs and again before the purge; without the running node (no
//! proofs) they are never planned, skipped at run time and left in
//! quarantine at purge time (the repair's quarantine pass decides them).
//! A bad copy with no healthy copy proven anywhere is reported lost.

mod copy;
mod job;
mod plan;

pub(crate) use copy::tier_of;
pub use copy::{peers, Peers, ProvenElsewhere, Responsible};
pub use job::{auto_purge, purge, recover, rollback, run, status, JobStatus};
pub use plan::plan;

use serde::{Deserialize, Serialize};
use shardnet_protocol::prune::Class;
use shardnet_protocol::{ShardId, Tier};
use shardnet_store::prune::JobState;
use shardnet_store::StoreError;

/// Largest plan file accepted (a few million entries).
const MAX_PLAN_LEN: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan's hash does not match its entries (edited since `prune plan` wrote it): make a new plan")]
    PlanEdited,
    #[error("plan file {path}: {reason}")]
    PlanFile { path: String, reason: String },
    #[error("no prune job {0} (`shardnet prune jobs` lists them)")]
    NoJob(u64),
    #[error("prune job {id} is {state:?}: {what}")]
    WrongState {
        id: u64,
        state: JobState,
        what: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub shard: ShardId,
    pub class: Class,
    pub bytes: u64,
    pub reason: String,
    /// The tier whose copy count the leases ask for (none without a lease).
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// What narrows a plan beyond its classes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFilter {
    /// Only copies of this tier.
    pub tier: Option<Tier>,
    /// Only copies stored more than this many seconds ago.
    pub older_than: Option<u64>,
    /// Only as many copies as free this many bytes, in reclaim order
    /// (`protocol::reclaim::pick`).
    pub reclaim: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTotal {
    /// A tier as JSON names it elsewhere ("Bronze"), or "none" (no lease).
    pub tier: String,
    pub shards: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTotal {
    pub class: Class,
    pub shards: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunePlan {
    pub created_at: u64,
    pub classes: Vec<Class>,
    pub entries: Vec<PlanEntry>,
    pub totals: Vec<ClassTotal>,
    /// Bad here, no healthy copy proven anywhere: reported, never deleted.
    pub lost: Vec<ShardId>,
    #[serde(default)]
    pub filter: PlanFilter,
    #[serde(default)]
    pub tiers: Vec<TierTotal>,
    /// BLAKE3 (hex) of the fields above: `prune run` refuses an edited plan.
    pub hash: String,
}

/// BLAKE3 over the plan's fields as JSON, streamed (no size cap: a capped
/// encoder would hash every oversized plan alike). Serialising these plain
/// types cannot fail; if it did, the hash would match nothing.
pub(super) fn plan_hash(p: &PrunePlan) -> String {
    let body = (
        (&p.created_at, &p.classes, &p.entries, &p.totals, &p.lost),
        (&p.filter, &p.tiers),
    );
    let mut h = blake3::Hasher::new();
    match serde_json::to_writer(&mut h, &body) {
        Ok(()) => h.finalize().to_hex().to_string(),
        Err(e) => format!("unhashable: {e}"),
    }
}

/// Reads a plan written by `prune plan --out`.
pub fn read_plan(path: &std::path::Path) -> Result<PrunePlan, PruneError> {
    let err = |reason: String| PruneError::PlanFile {
        path: path.display().to_string(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > MAX_PLAN_LEN {
        return Err(err(format!(
            "{len} bytes, over the {MAX_PLAN_LEN}-byte limit"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        err(format!(
            "not a plan written by `shardnet prune plan --out`: {e}"
        ))
    })
}
