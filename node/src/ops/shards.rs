//! The local store's shards: listing by status and re-verifying chosen ones.

use super::OpError;
use serde::{Deserialize, Serialize};
use shardnet_protocol::{retention, ShardId};
use shardnet_store::{ShardMeta, ShardState, Store};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardRow {
    pub id: ShardId,
    #[serde(flatten)]
    pub meta: ShardMeta,
    /// Past its leases' grace period, or without a lease.
    pub expired: bool,
    pub retention: retention::LeaseState,
}

/// Status filter of `shards list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusFilter {
    State(ShardState),
    Expired,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("expired") {
            return Ok(StatusFilter::Expired);
        }
        s.parse::<ShardState>()
            .map(StatusFilter::State)
            .map_err(|_| {
                format!("unknown status {s:?}: expected healthy, corrupted, quarantined or expired")
            })
    }
}

/// One shard's `shards verify` result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifyRow {
    pub id: ShardId,
    /// State after the check.
    pub state: Option<ShardState>,
    pub ok: bool,
    pub detail: String,
}

/// Re-reads and re-hashes `ids` (every held shard when empty); a mismatch or
/// missing bytes mark the copy corrupted (repair then replaces it).
pub fn shards_verify(store: &Store, ids: &[ShardId]) -> Result<Vec<VerifyRow>, OpError> {
    let mut ids = ids.to_vec();
    if ids.is_empty() {
        store.for_each_meta(|id, _| {
            ids.push(id);
            true
        })?;
    }
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let (ok, detail) = match store.get_shard(&id) {
            Ok(b) => (true, format!("{} bytes hash to the id", b.len())),
            Err(e) => (false, e.to_string()),
        };
        let state = store.meta(&id)?.map(|m| m.state);
        rows.push(VerifyRow {
            id,
            state,
            ok,
            detail,
        });
    }
    Ok(rows)
}

pub fn shards_list(store: &Store, status: Option<StatusFilter>) -> Result<Vec<ShardRow>, OpError> {
    let now = crate::output::now_unix();
    let mut rows = Vec::new();
    store.for_each_meta(|id, meta| {
        let state = retention::lease_state(&meta.leases, now, retention::GRACE_SECS);
        let expired = state.prunable();
        let keep = match status {
            None => true,
            Some(StatusFilter::State(s)) => meta.state == s,
            Some(StatusFilter::Expired) => expired,
        };
        if keep {
            rows.push(ShardRow {
                id,
                meta,
                expired,
                retention: state,
            });
        }
        true
    })?;
    Ok(rows)
}
