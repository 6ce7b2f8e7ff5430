//! Per-shard metadata a node's store keeps next to the bytes: the record and
//! its decoder, which reads every earlier version. It lives here, without
//! I/O, so that the decoder of these on-disk bytes can be fuzzed on its own.

use crate::codec::{self, CodecError};
use crate::lease::{Sig, StripeRecord};
use crate::{Avoid, Lease, OwnerId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Largest encoded metadata record (a shard with thousands of owners' leases).
pub const MAX_META_LEN: usize = 256 << 10;

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
    /// Owners' signed leases, one per owner (checked on receipt; kept with
    /// their signatures so that a repair can hand them on).
    pub leases: Vec<Lease>,
    /// Placement keys of peers that must not hold this shard (complementary
    /// separation), signed by an owner; repair places around them.
    pub avoid: Option<Avoid>,
    /// Unix seconds when the copy was quarantined (0: never).
    pub quarantined_at: u64,
    /// When this shard is a piece of an erasure-coded chunk: its stripe,
    /// as its owner signed it (checked on receipt), so that this holder can
    /// prove and rebuild its siblings while the owner is offline.
    pub stripe: Option<Box<StripeRecord>>,
}

impl ShardMeta {
    /// The placement keys this shard must stay off.
    pub fn avoid_keys(&self) -> &[[u8; 32]] {
        self.avoid.as_ref().map_or(&[], |a| a.keys.as_slice())
    }
}

/// A lease before leases were signed. Records of that time still open; their
/// leases carry an all-zero signature, which no other node accepts, so such
/// a shard is kept here but its lease is not handed on by repair.
#[derive(Deserialize)]
struct LeaseV0 {
    owner: OwnerId,
    expires_at: u64,
    copies: u8,
}

impl From<LeaseV0> for Lease {
    fn from(l: LeaseV0) -> Lease {
        Lease {
            owner: l.owner,
            expires_at: l.expires_at,
            copies: l.copies,
            sig: Sig([0; 64]),
        }
    }
}

/// The record before stripe records existed.
#[derive(Deserialize)]
struct ShardMetaV2 {
    size: u32,
    state: ShardState,
    stored_at: u64,
    verified_at: u64,
    leases: Vec<Lease>,
    avoid: Option<Avoid>,
    quarantined_at: u64,
}

/// The record before leases were signed.
#[derive(Deserialize)]
struct ShardMetaV1 {
    size: u32,
    state: ShardState,
    stored_at: u64,
    verified_at: u64,
    leases: Vec<LeaseV0>,
    #[allow(dead_code)] // unsigned: dropped
    avoid: Vec<[u8; 32]>,
    quarantined_at: u64,
}

/// The record before `quarantined_at` existed.
#[derive(Deserialize)]
struct ShardMetaV0 {
    size: u32,
    state: ShardState,
    stored_at: u64,
    verified_at: u64,
    leases: Vec<LeaseV0>,
    #[allow(dead_code)] // unsigned: dropped
    avoid: Vec<[u8; 32]>,
}

/// Decodes a metadata record of this version or an earlier one.
pub fn decode(bytes: &[u8]) -> Result<ShardMeta, CodecError> {
    let e = match codec::decode::<ShardMeta, MAX_META_LEN>("shard metadata", bytes) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if let Ok(v) = codec::decode::<ShardMetaV2, MAX_META_LEN>("shard metadata", bytes) {
        return Ok(ShardMeta {
            size: v.size,
            state: v.state,
            stored_at: v.stored_at,
            verified_at: v.verified_at,
            leases: v.leases,
            avoid: v.avoid,
            quarantined_at: v.quarantined_at,
            stripe: None,
        });
    }
    if let Ok(v) = codec::decode::<ShardMetaV1, MAX_META_LEN>("shard metadata", bytes) {
        return Ok(ShardMeta {
            size: v.size,
            state: v.state,
            stored_at: v.stored_at,
            verified_at: v.verified_at,
            leases: v.leases.into_iter().map(Lease::from).collect(),
            avoid: None,
            quarantined_at: v.quarantined_at,
            stripe: None,
        });
    }
    match codec::decode::<ShardMetaV0, MAX_META_LEN>("shard metadata", bytes) {
        Ok(v) => Ok(ShardMeta {
            size: v.size,
            state: v.state,
            stored_at: v.stored_at,
            verified_at: v.verified_at,
            leases: v.leases.into_iter().map(Lease::from).collect(),
            avoid: None,
            quarantined_at: 0,
            stripe: None,
        }),
        Err(_) => Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a store written before signed leases holds.
    #[derive(Serialize)]
    struct OldLease {
        owner: OwnerId,
        expires_at: u64,
        copies: u8,
    }

    #[derive(Serialize)]
    struct OldMeta {
        size: u32,
        state: ShardState,
        stored_at: u64,
        verified_at: u64,
        leases: Vec<OldLease>,
        avoid: Vec<[u8; 32]>,
        quarantined_at: u64,
    }

    #[test]
    fn records_from_before_signed_leases_still_open() {
        let old = OldMeta {
            size: 10,
            state: ShardState::Healthy,
            stored_at: 1,
            verified_at: 2,
            leases: vec![OldLease {
                owner: OwnerId([3; 32]),
                expires_at: 4,
                copies: 3,
            }],
            avoid: vec![[5; 32]],
            quarantined_at: 6,
        };
        let bytes = codec::encode::<_, MAX_META_LEN>("old", &old).unwrap();
        let m = decode(&bytes).unwrap();
        assert_eq!((m.size, m.quarantined_at, m.leases.len()), (10, 6, 1));
        assert_eq!((m.leases[0].expires_at, m.leases[0].copies), (4, 3));
        // The unsigned avoid list is dropped; the unsigned lease is kept here
        // with a signature no other node accepts.
        assert!(m.avoid.is_none());
        assert_eq!(m.leases[0].sig, Sig([0; 64]));
        let now = codec::encode::<_, MAX_META_LEN>("new", &m).unwrap();
        assert_eq!(decode(&now).unwrap(), m);
    }

    #[test]
    fn records_from_before_stripe_records_still_open() {
        #[derive(Serialize)]
        struct MetaV2 {
            size: u32,
            state: ShardState,
            stored_at: u64,
            verified_at: u64,
            leases: Vec<Lease>,
            avoid: Option<Avoid>,
            quarantined_at: u64,
        }
        let lease = Lease {
            owner: OwnerId([3; 32]),
            expires_at: 4,
            copies: 1,
            sig: Sig([7; 64]),
        };
        let old = MetaV2 {
            size: 10,
            state: ShardState::Quarantined,
            stored_at: 1,
            verified_at: 2,
            leases: vec![lease],
            avoid: None,
            quarantined_at: 6,
        };
        let bytes = codec::encode::<_, MAX_META_LEN>("old", &old).unwrap();
        let m = decode(&bytes).unwrap();
        assert_eq!(
            (m.size, m.state, m.quarantined_at),
            (10, ShardState::Quarantined, 6)
        );
        assert_eq!((m.leases, m.stripe), (vec![lease], None));
    }

    proptest::proptest! {
        /// Metadata bytes as a damaged disk may return them: an error, never
        /// a panic or an allocation the size of a garbage length.
        #[test]
        fn damaged_records_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = decode(&data);
        }
    }
}
