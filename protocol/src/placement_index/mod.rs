//! Responsible sets over a large, slowly changing view: the simulator asks for
//! millions of them over 10,000 peers, where ranking every peer per shard (what
//! [`placement::responsible_set`] does) would take hours.
//!
//! The index keeps every peer's virtual keys in one ordered set. The keys that
//! share the longest prefixes with a shard are contiguous in that order and
//! closer (XOR) than every key outside, so the answer can be computed from a
//! small range around the shard: the keys sharing the shard's first `b` bits,
//! of which those whose reach is below what any key outside could have (its
//! distance is at least `2^(64-b)`, divided by the largest weight) are exactly
//! the first entries of the whole view's order. `b` is lowered until those
//! entries provably give the same set as the whole view (see
//! [`PlacementIndex::responsible_set`]). A property test checks it against
//! the plain function.
//!
//! Peers that leave the view are kept as absent slots, so the frequent
//! down/up changes of the simulator cost a flag, not 256 key updates.
//!
//! The keys are two sorted vectors, not a tree: a large one and a small one
//! that new peers' keys go to, merged into the large one when it grows past
//! [`MERGE_AT`]. Profiled on the 10,000-node model (2.56 million keys), the
//! B-tree's range walks and string compares of zone names took 40% of the
//! run; zones are small integers here.

use crate::id::ShardId;
use crate::placement::vkeys::{prefix64, reach};
use crate::placement::{self, Candidate, Key};
use std::collections::HashMap;

/// Views this small are answered by the plain function.
const SMALL: usize = 64;
/// Keys of newly indexed peers kept apart before a merge (128 peers'
/// worth): each join re-sorts these, each merge moves all keys, and about
/// the square root of 250 keys per peer times 2.5 million keys balances
/// the two on the 10,000-node model.
const MERGE_AT: usize = 1 << 15;
/// Bits of a key that index `PlacementIndex::starts`.
const BUCKET_BITS: u32 = 16;

#[derive(Clone, Debug)]
struct Slot<P> {
    c: Candidate<P>,
    /// `c.zone` as an index into `PlacementIndex::zone_ids`.
    zone: u32,
    present: bool,
}

/// What the per-key loop of [`PlacementIndex::exact_order`] reads of a
/// slot, packed apart from the candidate: that loop visits slots in random
/// order, and 40 bytes per slot keep 10,000 of them in the L2 cache where
/// the full slots (a zone string and a key each) missed it on most reads
/// (profiled: 28% of the 10,000-node model on that one load).
/// A responsible set and how far its proof reached ([`PlacementIndex::ranked`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranked<P> {
    pub set: Vec<P>,
    pub horizon: Option<u128>,
}

#[derive(Clone, Copy, Debug)]
struct Hot {
    weight: u64,
    used: u64,
    capacity: u64,
    /// First 64 bits of the storage radius; `u64::MAX` without one.
    radius: u64,
    zone: u32,
    /// Present, not draining and not isolated.
    open: bool,
}

impl Hot {
    fn of<P>(c: &Candidate<P>, zone: u32) -> Self {
        Hot {
            weight: c.weight,
            used: c.used,
            capacity: c.capacity,
            radius: c.radius.as_ref().map_or(u64::MAX, prefix64),
            zone,
            open: !c.draining && !c.isolated,
        }
    }

    /// `Candidate::eligible(size) && Candidate::within(d)` of a present slot.
    fn takes(&self, size: u64, d: u64) -> bool {
        self.open && self.used.saturating_add(size) <= self.capacity && d <= self.radius
    }
}

#[derive(Clone, Debug)]
pub struct PlacementIndex<P> {
    /// (virtual key, slot) of every slot, present or not, sorted; and the
    /// keys of slots added since the last merge, sorted.
    keys: Vec<(u64, u32)>,
    fresh: Vec<(u64, u32)>,
    /// Where each value of a key's top [`BUCKET_BITS`] bits starts in
    /// `keys` (one more entry at the end): a range lookup searches one
    /// bucket of about 40 keys, not 2.5 million.
    starts: Vec<u32>,
    slots: Vec<Slot<P>>,
    /// Per slot, what the search reads ([`Hot`]; `open` false when absent).
    hot: Vec<Hot>,
    by_key: HashMap<Key, u32>,
    /// Every zone name seen, and the present peers per zone (same indices).
    zone_ids: HashMap<String, u32>,
    zone_peers: Vec<usize>,
    /// Zones with a present peer.
    zones: usize,
    present: usize,
    /// Largest weight ever indexed (a bound; larger is only slower).
    max_weight: u64,
}

impl<P: Clone> PlacementIndex<P> {
    pub fn new(peers: Vec<Candidate<P>>) -> Self {
        let mut index = PlacementIndex {
            keys: Vec::new(),
            fresh: Vec::new(),
            starts: vec![0; (1 << BUCKET_BITS) + 1],
            slots: Vec::new(),
            hot: Vec::new(),
            by_key: HashMap::new(),
            zone_ids: HashMap::new(),
            zone_peers: Vec::new(),
            zones: 0,
            present: 0,
            max_weight: 1,
        };
        for c in peers {
            if !index.by_key.contains_key(&c.key) {
                index.add(c, false);
            }
        }
        index.fresh.sort_unstable();
        index.merge();
        index
    }

    /// Adds a peer, or replaces the one with the same key (a state change).
    pub fn upsert(&mut self, c: Candidate<P>) {
        self.add(c, true);
    }

    /// [`upsert`](Self::upsert); `settle` keeps the keys searchable at once
    /// (else they wait for [`merge`](Self::merge)).
    fn add(&mut self, c: Candidate<P>, settle: bool) {
        self.remove(&c.key);
        let next = self.zone_ids.len() as u32;
        let zone = *self.zone_ids.entry(c.zone.clone()).or_insert(next);
        if zone == next {
            self.zone_peers.push(0);
        }
        self.zone_peers[zone as usize] += 1;
        if self.zone_peers[zone as usize] == 1 {
            self.zones += 1;
        }
        self.present += 1;
        self.max_weight = self.max_weight.max(c.weight);
        let hot = Hot::of(&c, zone);
        let slot = Slot {
            c,
            zone,
            present: true,
        };
        match self.by_key.get(&slot.c.key) {
            Some(&s) => {
                self.slots[s as usize] = slot;
                self.hot[s as usize] = hot;
            }
            None => {
                let s = self.slots.len() as u32;
                self.hot.push(hot);
                self.fresh
                    .extend(slot.c.vkeys.as_slice().iter().map(|&k| (k, s)));
                self.by_key.insert(slot.c.key, s);
                self.slots.push(slot);
                if settle {
                    self.fresh.sort();
                    if self.fresh.len() >= MERGE_AT {
                        self.merge();
                    }
                }
            }
        }
    }

    /// Merges the sorted `fresh` into the sorted `keys` from the back, in
    /// place: linear, where appending and sorting 2.5 million entries again
    /// took a tenth of the 10,000-node model.
    fn merge(&mut self) {
        let (n, m) = (self.keys.len(), self.fresh.len());
        self.keys.resize(n + m, (0, 0));
        let (mut i, mut j) = (n, m);
        for k in (0..n + m).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.keys[i - 1] > self.fresh[j - 1] {
                self.keys[k] = self.keys[i - 1];
                i -= 1;
            } else {
                self.keys[k] = self.fresh[j - 1];
                j -= 1;
            }
        }
        self.fresh.clear();
        let mut at = 0usize;
        for (b, start) in self.starts.iter_mut().enumerate() {
            while at < self.keys.len() && ((self.keys[at].0 >> (64 - BUCKET_BITS)) as usize) < b {
                at += 1;
            }
            *start = at as u32;
        }
    }

    /// The entries of `keys` whose key lies in `lo..=hi`.
    fn keys_in(&self, lo: u64, hi: u64) -> &[(u64, u32)] {
        let bucket = |k: u64| (k >> (64 - BUCKET_BITS)) as usize;
        let (a, b) = (self.starts[bucket(lo)], self.starts[bucket(hi) + 1]);
        let near = &self.keys[a as usize..b as usize];
        in_range(near, lo, hi)
    }

    /// Removes the peer with this key, if present.
    pub fn remove(&mut self, key: &Key) -> Option<Candidate<P>> {
        let s = *self.by_key.get(key)?;
        let slot = &mut self.slots[s as usize];
        if !slot.present {
            return None;
        }
        slot.present = false;
        self.hot[s as usize].open = false;
        self.present -= 1;
        let n = &mut self.zone_peers[slot.zone as usize];
        *n -= 1;
        if *n == 0 {
            self.zones -= 1;
        }
        Some(slot.c.clone())
    }

    pub fn len(&self) -> usize {
        self.present
    }

    pub fn is_empty(&self) -> bool {
        self.present == 0
    }

    fn present_peers(&self) -> Vec<Candidate<P>> {
        self.slots
            .iter()
            .filter(|s| s.present)
            .map(|s| s.c.clone())
            .collect()
    }

    /// Exactly `placement::responsible_set(shard, size, peers, copies)`.
    ///
    /// The entries `T` of the range sharing the shard's first `b` bits whose
    /// reach is below `2^(64-b) / max_weight` are the first entries of the
    /// whole view's order, and each peer's first entry in `T` is its nearest.
    /// `T` gives the same set as the whole view when its eligible peers number
    /// at least `copies` and either span `copies` zones (the zone pass then
    /// fills inside `T`, which the whole-view walk visits first) or span every
    /// zone of the view (both walks then pick the same first peer per zone,
    /// and the reach pass fills from `T` alike). Otherwise `b` drops by one;
    /// at `b = 0` the plain function runs on the whole view.
    pub fn responsible_set(&self, shard: &ShardId, size: u64, copies: usize) -> Vec<P> {
        self.ranked(shard, size, copies).set
    }

    /// [`Self::responsible_set`], with what it depends on, so a caller may
    /// keep it: the set is the whole view's, and it stays so while no peer
    /// with an entry of reach at most `horizon` from the shard is added,
    /// removed or changed and [`Self::zone_count`] stays the same. The walk
    /// reads the whole view's order only up to the last peer it picks (the
    /// farthest, at `horizon`); entries beyond it are in zones already seen
    /// (else the zone pass would have taken them while short) or come after
    /// the set is full. `horizon` is `None` when the plain function decided.
    pub fn ranked(&self, shard: &ShardId, size: u64, copies: usize) -> Ranked<P> {
        let plain = || Ranked {
            set: placement::responsible_set(shard, size, &self.present_peers(), copies),
            horizon: None,
        };
        if self.present <= SMALL {
            return plain();
        }
        let per_slice = (copies * 4).max(16);
        let keys = self.keys.len() + self.fresh.len();
        let mut bits = (keys / per_slice).max(1).ilog2().min(63);
        while bits > 0 {
            if let Some((order, reach)) = self.exact_order(shard, size, copies, bits) {
                let zone = |i: usize| self.hot[i].zone;
                let chosen = placement::walk(&order, zone, copies);
                let last = chosen
                    .iter()
                    .filter_map(|c| order.iter().position(|o| o == c))
                    .max();
                return Ranked {
                    horizon: last.map(|p| reach[p]),
                    set: chosen
                        .into_iter()
                        .map(|i| self.slots[i].c.peer.clone())
                        .collect(),
                };
            }
            bits -= 1;
        }
        plain()
    }

    /// How many zones the present peers span.
    pub fn zone_count(&self) -> usize {
        self.zones
    }

    /// The whole view's order of eligible peers, as far as the range of
    /// prefix length `bits` proves it, if that is enough for `copies`.
    fn exact_order(
        &self,
        shard: &ShardId,
        size: u64,
        copies: usize,
        bits: u32,
    ) -> Option<(Vec<usize>, Vec<u128>)> {
        let s = prefix64(&shard.0);
        let mask = !0u64 << (64 - bits);
        let (lo, hi) = (s & mask, (s & mask) | !mask);
        let bound = (1u128 << (128 - bits)) / u128::from(self.max_weight);
        let mut entries: Vec<(u128, u32)> = Vec::new();
        for &(k, slot) in self
            .keys_in(lo, hi)
            .iter()
            .chain(in_range(&self.fresh, lo, hi))
        {
            let h = &self.hot[slot as usize];
            let d = k ^ s;
            if !h.takes(size, d) {
                continue;
            }
            // `reach(d, w) < bound` without a division: floor(x / w) < b
            // exactly when x < b * w, and b * w <= 2^(128 - bits) as no
            // weight exceeds `max_weight`.
            if (u128::from(d) << 64) < bound * u128::from(h.weight.max(1)) {
                entries.push((reach(d, h.weight), slot));
            }
        }
        // The plain function's order: reach, then key (a peer's entries
        // never tie: distinct keys give distinct reach).
        let key = |slot: u32| &self.slots[slot as usize].c.key;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(key(b.1))));
        let mut order: Vec<usize> = Vec::with_capacity(copies * 2);
        let mut reach_of: Vec<u128> = Vec::with_capacity(copies * 2);
        // Few zones: a vector beats hashing here (this runs per shard).
        let mut zones: Vec<u32> = Vec::new();
        for (r, slot) in entries {
            let slot = slot as usize;
            if order.contains(&slot) {
                continue;
            }
            order.push(slot);
            reach_of.push(r);
            let z = self.hot[slot].zone;
            if !zones.contains(&z) {
                zones.push(z);
                // The zone pass of the walk ends inside this prefix: the
                // rest of the order cannot change the set.
                if zones.len() >= copies {
                    break;
                }
            }
        }
        let exact = order.len() >= copies && (zones.len() >= copies || zones.len() == self.zones);
        exact.then_some((order, reach_of))
    }
}

/// The entries of sorted `v` whose key lies in `lo..=hi`.
fn in_range(v: &[(u64, u32)], lo: u64, hi: u64) -> &[(u64, u32)] {
    let a = v.partition_point(|&(k, _)| k < lo);
    let b = v.partition_point(|&(k, _)| k <= hi);
    &v[a..b]
}

#[cfg(test)]
mod tests;
