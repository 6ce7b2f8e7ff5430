//! The storage radius of a peer that sheds load.

use super::vkeys::VirtualKeys;
use super::Key;
use crate::id::ShardId;

/// The storage radius a peer holding `held` (shard id, size) should announce
/// to keep at most `keep_bytes`: it keeps its closest shards (by the distance
/// of its nearest virtual key) and sheds the farthest, so the shards it keeps
/// are exactly those within the radius. `None` when everything fits. Only the
/// first 64 bits of the radius count, as for distances.
pub fn shed_radius(own: &VirtualKeys, held: &[(ShardId, u64)], keep_bytes: u64) -> Option<Key> {
    let total: u64 = held.iter().map(|(_, s)| *s).sum();
    if total <= keep_bytes {
        return None;
    }
    let mut by_distance: Vec<(u64, u64)> =
        held.iter().map(|(id, s)| (own.nearest(id), *s)).collect();
    by_distance.sort_unstable();
    let mut kept = 0u64;
    // Nothing kept: radius zero covers only a shard on one of the keys.
    let mut radius = 0u64;
    for (d, s) in by_distance {
        kept = kept.saturating_add(s);
        if kept > keep_bytes {
            break;
        }
        radius = d;
    }
    let mut r = [0u8; 32];
    r[..8].copy_from_slice(&radius.to_be_bytes());
    Some(r)
}
