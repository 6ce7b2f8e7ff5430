//! The local copies a scan looks at: healthy and quarantined, less the
//! ones stored too recently to repair.

use super::now_unix;
use shardnet_protocol::{retention, ShardId};
use shardnet_store::{ShardState, Store};
use std::time::Duration;

/// A local copy the scan looks at.
pub(super) struct Local {
    pub(super) id: ShardId,
    pub(super) size: u64,
    pub(super) wanted: usize,
    /// Placement keys to avoid (this node's own included).
    pub(super) avoid: Vec<[u8; 32]>,
    /// Set for a quarantined copy: when it was quarantined.
    pub(super) quarantined_at: Option<u64>,
}

/// Local healthy and quarantined copies. Shards stored less than `grace` ago
/// are left out: the backup that brought them may still be placing their
/// other copies, and repairing them now would copy them twice (measured with
/// 75 nodes: scans during a backup queued such copies).
pub(super) fn local_shards(store: &Store, grace: Duration) -> Vec<Local> {
    let now = now_unix();
    let fresh_after = now.saturating_sub(grace.as_secs());
    let mut v = Vec::new();
    let _ = store.for_each_meta(|id, m| {
        // Once every lease has run out a shard is neither repaired nor
        // handed off (no holder would take it), and a quarantined copy of it
        // belongs to prune (a job's rollback or purge), not to the
        // quarantine pass: its copies stay until prune removes them.
        let Some(wanted) = retention::copies_to_keep(&m.leases, now) else {
            return true;
        };
        let quarantined = m.state == ShardState::Quarantined;
        if (m.state == ShardState::Healthy && m.stored_at <= fresh_after) || quarantined {
            v.push(Local {
                id,
                size: m.size as u64,
                wanted,
                // This node's own key too: a holder the owner's list avoids
                // (it took a copy while too few others were eligible) must
                // rank the shard as its co-holders do, outside the set, or
                // each side counts itself responsible and the surplus copy
                // stays for good (seen in e2e_lifecycle after gold -> bronze).
                avoid: m.avoid_keys().to_vec(),
                quarantined_at: quarantined.then_some(m.quarantined_at),
            });
        }
        true
    });
    v
}
