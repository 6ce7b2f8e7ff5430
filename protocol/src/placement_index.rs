//! Responsible sets over a large, slowly changing view: the simulator asks for
//! millions of them over 10,000 peers, where sorting every peer per shard (what
//! [`placement::responsible_set`] does) would take hours.
//!
//! The index keeps the candidates sorted by key. The peers whose keys share the
//! longest prefixes with a shard are contiguous in that order and closer (XOR)
//! than every peer outside, so the answer can be computed on a small slice
//! around the shard: [`placement::responsible_set`] itself runs on the peers
//! sharing the shard's first `b` bits, with `b` lowered until the slice provably
//! gives the same set as the whole view (see [`PlacementIndex::responsible_set`]).
//! A property test checks it against the plain function.

use crate::id::ShardId;
use crate::placement::{self, Candidate, Key};
use std::collections::HashMap;

/// Views this small are answered by the plain function.
const SMALL: usize = 64;

#[derive(Clone, Debug)]
pub struct PlacementIndex<P> {
    sorted: Vec<Candidate<P>>,
    /// Peers per zone.
    zones: HashMap<String, usize>,
}

impl<P: Clone> PlacementIndex<P> {
    pub fn new(mut peers: Vec<Candidate<P>>) -> Self {
        peers.sort_by_key(|c| c.key);
        peers.dedup_by_key(|c| c.key);
        let mut zones = HashMap::new();
        for c in &peers {
            *zones.entry(c.zone.clone()).or_insert(0) += 1;
        }
        PlacementIndex {
            sorted: peers,
            zones,
        }
    }

    /// Adds a peer, or replaces the one with the same key (a state change).
    pub fn upsert(&mut self, c: Candidate<P>) {
        self.remove(&c.key);
        *self.zones.entry(c.zone.clone()).or_insert(0) += 1;
        let at = self.sorted.partition_point(|x| x.key < c.key);
        self.sorted.insert(at, c);
    }

    /// Removes the peer with this key, if present.
    pub fn remove(&mut self, key: &Key) -> Option<Candidate<P>> {
        let at = self.sorted.binary_search_by_key(key, |c| c.key).ok()?;
        let c = self.sorted.remove(at);
        if let Some(n) = self.zones.get_mut(&c.zone) {
            *n -= 1;
            if *n == 0 {
                self.zones.remove(&c.zone);
            }
        }
        Some(c)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Exactly `placement::responsible_set(shard, size, peers, copies)`.
    ///
    /// A slice `S` of the peers sharing the shard's first `b` bits gives the
    /// same set as the whole view when its eligible peers number at least
    /// `copies` and either span `copies` zones (the zone pass then fills inside
    /// `S`, which the whole-view walk visits first) or span every zone of the
    /// view (both walks then pick the same first peer per zone, and the
    /// distance pass fills from `S` alike). Otherwise `b` drops by one; at
    /// `b = 0` the slice is the whole view.
    pub fn responsible_set(&self, shard: &ShardId, size: u64, copies: usize) -> Vec<P> {
        let n = self.sorted.len();
        if n <= SMALL {
            return placement::responsible_set(shard, size, &self.sorted, copies);
        }
        let per_slice = (copies * 4).max(16);
        let mut bits = ((n / per_slice).max(1)).ilog2() as usize;
        loop {
            let slice = self.prefix_slice(&shard.0, bits);
            if bits == 0 || self.exact_on(slice, shard, size, copies) {
                return placement::responsible_set(shard, size, slice, copies);
            }
            bits -= 1;
        }
    }

    fn exact_on(&self, slice: &[Candidate<P>], shard: &ShardId, size: u64, copies: usize) -> bool {
        // Few zones: a vector beats hashing here (this runs per shard).
        let mut zones: Vec<&str> = Vec::new();
        let mut eligible = 0;
        for c in slice.iter().filter(|c| c.eligible(size) && c.covers(shard)) {
            eligible += 1;
            if !zones.contains(&c.zone.as_str()) {
                zones.push(&c.zone);
            }
        }
        eligible >= copies && (zones.len() >= copies || zones.len() == self.zones.len())
    }

    /// Peers whose keys share the first `bits` bits with `key`.
    fn prefix_slice(&self, key: &Key, bits: usize) -> &[Candidate<P>] {
        let (mut lo, mut hi) = (*key, *key);
        for i in bits..256 {
            let (byte, bit) = (i / 8, 7 - (i % 8));
            lo[byte] &= !(1 << bit);
            hi[byte] |= 1 << bit;
        }
        let a = self.sorted.partition_point(|c| c.key < lo);
        let b = self.sorted.partition_point(|c| c.key <= hi);
        &self.sorted[a..b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::peer_key;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn same_sets_as_the_plain_function(
            n in 1usize..600,
            zones in 1usize..9,
            copies in 1usize..8,
            full_every in 2usize..20,
            seed in any::<u64>(),
        ) {
            let peers: Vec<Candidate<u32>> = (0..n as u32)
                .map(|i| Candidate {
                    peer: i,
                    key: peer_key(&(seed ^ i as u64).to_le_bytes()),
                    zone: format!("z{}", (i as usize * 7 + 3) % zones),
                    capacity: 100,
                    used: if (i as usize).is_multiple_of(full_every) { 100 } else { 0 },
                    draining: i % 31 == 5,
                    isolated: false,
                    radius: (i % 13 == 1).then(|| { let mut r = [0u8; 32]; r[0] = 0x3f; r }),
                })
                .collect();
            // Built in two halves through upsert/remove: the incremental path.
            let mut index = PlacementIndex::new(peers[..n / 2].to_vec());
            for c in &peers[n / 2..] {
                index.upsert(c.clone());
            }
            let mut gone = peers[0].clone();
            gone.key = [0xff; 32];
            index.upsert(gone);
            index.remove(&[0xff; 32]);
            index.upsert(peers[0].clone());
            for s in 0..40u64 {
                let id = ShardId::of(&seed.wrapping_add(s.wrapping_mul(7919)).to_le_bytes());
                prop_assert_eq!(
                    index.responsible_set(&id, 1, copies),
                    placement::responsible_set(&id, 1, &peers, copies)
                );
            }
        }
    }
}
