//! Placement: which peers are responsible for a shard.
//!
//! The responsible set of a shard is the `copies` eligible peers closest to the
//! shard (Kademlia's XOR metric, over each peer's [`VirtualKeys`] and scaled by
//! its capacity [`weight`]; see [`vkeys`] for why both), subject to:
//!
//! - **eligibility**: full, draining and isolated peers are skipped, and a peer
//!   that sheds load (over its capacity) announces a *storage radius*: it is
//!   responsible only for shards within that distance of its nearest virtual
//!   key ([`shed_radius`]). Every node sees the radius in the peer's
//!   heartbeat, so all of them agree on which shards leave it; a fill level
//!   would not do (it changes with every transfer and makes a full peer flap);
//! - **zones**: replicas go to distinct zones while enough zones exist: a first
//!   pass walks peers by reach taking only unseen zones, a second pass fills
//!   the remaining places by reach;
//! - **complementary separation** ([`place_backup`]): when the swarm has more
//!   eligible peers than the replica count, no single peer is responsible for
//!   every shard of one backup.
//!
//! Pure and deterministic: every node computes the same sets from the same view,
//! and the simulator calls the very same functions. Joining or leaving moves only
//! the shards whose closest set the peer enters or leaves (about copies × the
//! peer's share of the weight).

mod pieces;
mod shed;
pub mod vkeys;

use crate::id::ShardId;
pub use pieces::{place_pieces, PiecePlace};
use sha2::{Digest, Sha256};
pub use shed::shed_radius;
pub use vkeys::{cap_weights, reach, weight, VirtualKeys};

/// Version of the placement rules: nodes of different rules compute different
/// sets, so state derived from them (a storage radius) is kept per version.
/// 2: virtual keys and capacity weights.
pub const RULES: u32 = 2;

/// XOR-metric key of a peer or shard.
pub type Key = [u8; 32];

/// A peer as placement sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate<P> {
    pub peer: P,
    pub key: Key,
    /// Derived from `key` ([`VirtualKeys::of`]).
    pub vkeys: VirtualKeys,
    /// Share of the key space relative to other peers ([`weight`] of the
    /// announced capacity).
    pub weight: u64,
    pub zone: String,
    /// Bytes of others' shards the peer accepts.
    pub capacity: u64,
    pub used: u64,
    pub draining: bool,
    pub isolated: bool,
    /// Storage radius of a peer shedding load: responsible only for shards
    /// whose distance from its nearest virtual key is at most this (first 64
    /// bits). `None`: no limit.
    pub radius: Option<Key>,
}

impl<P> Candidate<P> {
    /// A candidate with no load: zone, key and announced capacity only.
    pub fn new(peer: P, key: Key, zone: String, capacity: u64) -> Self {
        Candidate {
            peer,
            key,
            vkeys: VirtualKeys::of(&key),
            weight: weight(capacity),
            zone,
            capacity,
            used: 0,
            draining: false,
            isolated: false,
            radius: None,
        }
    }

    /// Whether the peer can take a shard of `size` bytes.
    pub fn eligible(&self, size: u64) -> bool {
        !self.draining && !self.isolated && self.used.saturating_add(size) <= self.capacity
    }

    /// Whether a shard at distance `d` (64 bits) lies within the radius.
    pub fn within(&self, d: u64) -> bool {
        self.radius.is_none_or(|r| d <= vkeys::prefix64(&r))
    }

    /// Whether `shard` lies within the peer's storage radius.
    pub fn covers(&self, shard: &ShardId) -> bool {
        self.within(self.vkeys.nearest(shard))
    }

    /// Scaled distance to `shard`: smaller ranks first.
    pub fn reach(&self, shard: &ShardId) -> u128 {
        reach(self.vkeys.nearest(shard), self.weight)
    }
}

/// The key of a libp2p peer id's bytes: SHA-256, as libp2p's Kademlia does.
pub fn peer_key(peer_id_bytes: &[u8]) -> Key {
    Sha256::digest(peer_id_bytes).into()
}

/// XOR distance between two keys (compare as big-endian integers).
pub fn distance(a: &Key, b: &Key) -> Key {
    let mut d = [0u8; 32];
    for i in 0..32 {
        d[i] = a[i] ^ b[i];
    }
    d
}

/// The responsible set of `shard` (size `size` bytes): up to `copies` peers,
/// closest first within the zone-spreading rule. Fewer when fewer are eligible.
pub fn responsible_set<P: Clone>(
    shard: &ShardId,
    size: u64,
    peers: &[Candidate<P>],
    copies: usize,
) -> Vec<P> {
    ranked(shard, size, peers, copies)
        .into_iter()
        .map(|i| peers[i].peer.clone())
        .collect()
}

/// Indices into `peers` of the responsible set, in placement order.
fn ranked<P>(shard: &ShardId, size: u64, peers: &[Candidate<P>], copies: usize) -> Vec<usize> {
    // Reach computed once per peer, not per comparison. Equal reach and key
    // mean one peer listed twice; the index breaks the tie.
    let mut by_reach: Vec<(u128, Key, usize)> = (0..peers.len())
        .filter(|&i| peers[i].eligible(size))
        .filter_map(|i| {
            let c = &peers[i];
            let d = c.vkeys.nearest(shard);
            c.within(d).then(|| (reach(d, c.weight), c.key, i))
        })
        .collect();
    by_reach.sort_unstable();
    let order: Vec<usize> = by_reach.into_iter().map(|(_, _, i)| i).collect();
    walk(&order, |i| peers[i].zone.as_str(), copies)
}

/// The zone-spreading walk over peers in reach order: first one per unseen
/// zone, then the closest remaining. Shared with `PlacementIndex`.
pub(crate) fn walk<Z: PartialEq>(
    order: &[usize],
    zone: impl Fn(usize) -> Z,
    copies: usize,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::with_capacity(copies);
    let mut zones: Vec<Z> = Vec::new();
    for &i in order {
        if chosen.len() == copies {
            break;
        }
        let z = zone(i);
        if !zones.contains(&z) {
            zones.push(z);
            chosen.push(i);
        }
    }
    for &i in order {
        if chosen.len() == copies {
            break;
        }
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
}

/// Responsible sets for all shards of one backup, `(id, size)` each, with
/// complementary separation: no peer is responsible for every shard.
///
/// Separation is possible exactly when the sets' complements can cover every
/// peer, `shards × (eligible − copies) ≥ eligible`; otherwise the sets are
/// returned as placement made them. The repair: while a peer `p` is in every
/// set, some other peer `q` is missing from at least two sets (pigeonhole);
/// swap `p` for `q` in the one of those sets where `p` ranks last. `q` stays
/// missing somewhere and `p` now is, so each swap removes one offender: at most
/// one swap per peer. Deterministic.
pub fn place_backup<P: Clone + PartialEq>(
    shards: &[(ShardId, u64)],
    peers: &[Candidate<P>],
    copies: usize,
) -> Vec<Vec<P>> {
    let mut sets: Vec<Vec<usize>> = shards
        .iter()
        .map(|(id, size)| ranked(id, *size, peers, copies))
        .collect();
    let eligible: Vec<usize> = (0..peers.len()).filter(|&i| peers[i].eligible(0)).collect();
    let n = eligible.len();
    let feasible = shards.len() >= 2 && n > copies && shards.len() * (n - copies) >= n;
    // Each swap removes one offender for good, so `n` rounds always suffice.
    for _ in 0..if feasible { n } else { 0 } {
        let Some(&p) = eligible
            .iter()
            .find(|&&p| sets.iter().all(|s| s.contains(&p)))
        else {
            break;
        };
        let missing = |q: usize| {
            (0..sets.len())
                .filter(|&s| !sets[s].contains(&q))
                .collect::<Vec<_>>()
        };
        let Some((q, from)) = eligible
            .iter()
            .map(|&q| (q, missing(q)))
            .filter(|(_, m)| m.len() >= 2)
            .min_by_key(|(q, _)| peers[*q].key)
        else {
            break;
        };
        let s = *from
            .iter()
            .filter(|&&s| peers[q].eligible(shards[s].1))
            .max_by_key(|&&s| (sets[s].iter().position(|&x| x == p), s))
            .unwrap_or(&from[0]);
        let pos = sets[s]
            .iter()
            .position(|&x| x == p)
            .expect("p is in every set"); // ok: p was chosen for being in every set
        sets[s][pos] = q;
    }
    sets.into_iter()
        .map(|s| s.into_iter().map(|i| peers[i].peer.clone()).collect())
        .collect()
}

#[cfg(test)]
mod tests;
