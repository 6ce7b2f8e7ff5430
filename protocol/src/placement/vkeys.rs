//! Virtual keys and capacity weights: what makes placement balanced.
//!
//! With one XOR key per peer, a peer's share of the key space is the size of
//! its Kademlia cell, which varies by a factor of ten and more between peers
//! (the model measured a utilisation spread of 180-440% of the mean). Each
//! peer therefore has [`VIRTUAL_KEYS`] keys, derived from its placement key
//! with BLAKE3 (anyone can recompute them; a peer cannot choose them), and
//! its distance to a shard is the distance of its nearest virtual key: the
//! peer's share is then a sum of that many cells, whose relative deviation is
//! about `1/sqrt(VIRTUAL_KEYS)` (6% at 256).
//!
//! Capacity enters as a weight: a peer's *reach* to a shard is its distance
//! divided by its weight, and the smallest reach wins. For the small distances
//! that decide placement the nearest of `V` keys is close to exponentially
//! distributed, so dividing it by `w` makes a peer's share proportional to
//! `w` (weighted rendezvous hashing with XOR distances). Weights are
//! relative, so no swarm-wide unit is needed. Capacity is only a peer's word,
//! so a weight counts at most [`MAX_OVER_MEDIAN`] times the view's median
//! ([`cap_weights`]): a peer that lies about its capacity attracts at most
//! the share of that many honest peers, no more than a few sybils would.
//!
//! Distances use the first 64 bits of the keys: equal 64-bit distances between
//! different keys happen about once in 2^64 comparisons, and the peer key
//! breaks such ties. Reach is an integer, so every node computes the same sets
//! on every platform.

use super::{Candidate, Key};
use crate::id::ShardId;
use std::sync::Arc;

/// Virtual keys per peer.
pub const VIRTUAL_KEYS: usize = 256;

/// Weight unit: one MiB of announced capacity.
const WEIGHT_SHIFT: u32 = 20;

/// The largest weight: 16 TiB. A peer that announces more counts as 16 TiB, so
/// one lying peer attracts at most the share of a 16 TiB peer.
pub const MAX_WEIGHT: u64 = 1 << 24;

/// Context of the virtual key derivation (a changed derivation is a new one).
const CONTEXT: &str = "shardnet 2026-12 placement virtual keys v1";

/// The placement weight of a peer announcing `capacity` bytes: capacity in MiB,
/// at least 1, at most [`MAX_WEIGHT`].
pub fn weight(capacity: u64) -> u64 {
    (capacity >> WEIGHT_SHIFT).clamp(1, MAX_WEIGHT)
}

/// First 64 bits of a key or shard id, as an integer.
pub fn prefix64(key: &Key) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[..8]);
    u64::from_be_bytes(b)
}

/// A weight counts at most this many times the median weight of the view.
pub const MAX_OVER_MEDIAN: u64 = 4;

/// Caps every candidate's weight at [`MAX_OVER_MEDIAN`] times the median
/// weight of `cands` (the upper median; weights below the cap are unchanged,
/// so honest views of similar peers place exactly as without the cap).
pub fn cap_weights<P>(cands: &mut [Candidate<P>]) {
    let mut w: Vec<u64> = cands.iter().map(|c| c.weight).collect();
    if w.is_empty() {
        return;
    }
    let mid = w.len() / 2;
    let median = *w.select_nth_unstable(mid).1;
    let cap = median.saturating_mul(MAX_OVER_MEDIAN).max(1);
    for c in cands {
        c.weight = c.weight.min(cap);
    }
}

/// Scaled distance: `distance / weight` as a 64.64 fixed-point integer.
/// Smaller is closer.
pub fn reach(distance: u64, weight: u64) -> u128 {
    (u128::from(distance) << 64) / u128::from(weight.max(1))
}

/// A peer's virtual keys (first 64 bits each), shared cheaply between the
/// candidates built from one view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualKeys(Arc<[u64]>);

impl VirtualKeys {
    /// The virtual keys of the peer with placement key `key`: one BLAKE3
    /// extendable output under a fixed context (about 2 us).
    pub fn of(key: &Key) -> Self {
        let mut out = vec![0u8; VIRTUAL_KEYS * 8];
        blake3::Hasher::new_derive_key(CONTEXT)
            .update(key)
            .finalize_xof()
            .fill(&mut out);
        let keys: Vec<u64> = out
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        VirtualKeys(keys.into())
    }

    pub fn as_slice(&self) -> &[u64] {
        &self.0
    }

    /// Distance (64 bits) from the nearest of these keys to `shard`.
    pub fn nearest(&self, shard: &ShardId) -> u64 {
        let s = prefix64(&shard.0);
        self.0.iter().map(|k| k ^ s).min().unwrap_or(u64::MAX)
    }
}
