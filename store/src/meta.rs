//! Per-shard metadata kept next to the bytes.

use serde::{Deserialize, Serialize};
use shardnet_protocol::codec::{self, CodecError};
use shardnet_protocol::Lease;
use std::fmt;
use std::str::FromStr;

/// Largest encoded metadata record (a shard with thousands of owners' leases).
pub(crate) const MAX_META_LEN: usize = 256 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShardState {
    /// Bytes hash to the id as of the last read.
    Healthy,
    /// A read or scrub found the bytes do not match the id; kept until repaired
    /// from a healthy copy or pruned.
    Corrupted,
    /// Removed from service, awaiting deletion after a grace period (prune).
    Quarantined,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// Stored length in bytes.
    pub size: u32,
    pub state: ShardState,
    /// Unix seconds when first stored.
    pub stored_at: u64,
    /// Unix seconds of the last full verification (store or read).
    pub verified_at: u64,
    pub leases: Vec<Lease>,
    /// Placement keys of peers that must not hold this shard (complementary
    /// separation decided by the owner); repair places around them.
    pub avoid: Vec<[u8; 32]>,
    /// Unix seconds when the copy was quarantined (0: never).
    pub quarantined_at: u64,
}

/// The record before `quarantined_at` existed: stores written by earlier
/// versions still open.
#[derive(Deserialize)]
struct ShardMetaV0 {
    size: u32,
    state: ShardState,
    stored_at: u64,
    verified_at: u64,
    leases: Vec<Lease>,
    avoid: Vec<[u8; 32]>,
}

/// Decodes a metadata record of this version or the one before.
pub(crate) fn decode(bytes: &[u8]) -> Result<ShardMeta, CodecError> {
    match codec::decode::<ShardMeta, MAX_META_LEN>("shard metadata", bytes) {
        Ok(m) => Ok(m),
        Err(e) => match codec::decode::<ShardMetaV0, MAX_META_LEN>("shard metadata", bytes) {
            Ok(v) => Ok(ShardMeta {
                size: v.size,
                state: v.state,
                stored_at: v.stored_at,
                verified_at: v.verified_at,
                leases: v.leases,
                avoid: v.avoid,
                quarantined_at: 0,
            }),
            Err(_) => Err(e),
        },
    }
}

impl ShardState {
    pub fn name(self) -> &'static str {
        match self {
            ShardState::Healthy => "healthy",
            ShardState::Corrupted => "corrupted",
            ShardState::Quarantined => "quarantined",
        }
    }
}

impl fmt::Display for ShardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ShardState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            ShardState::Healthy,
            ShardState::Corrupted,
            ShardState::Quarantined,
        ]
        .into_iter()
        .find(|st| st.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown status {s:?}: expected healthy, corrupted or quarantined"))
    }
}
