//! Placement: which peers are responsible for a shard.
//!
//! The responsible set of a shard is the `copies` eligible peers closest to the
//! shard by XOR distance (Kademlia's metric; a peer's key is SHA-256 of its peer
//! id, as in libp2p's `kbucket::Key`, and a shard's key is its id), subject to:
//!
//! - **eligibility**: full, draining and isolated peers are skipped, and a peer
//!   that sheds load (over its capacity) announces a *storage radius*: it is
//!   responsible only for shards within that XOR distance of its key
//!   ([`shed_radius`]). Every node sees the radius in the peer's heartbeat, so
//!   all of them agree on which shards leave it; a fill level would not do
//!   (it changes with every transfer and makes a full peer flap);
//! - **zones**: replicas go to distinct zones while enough zones exist: a first
//!   pass walks peers by distance taking only unseen zones, a second pass fills
//!   the remaining places by distance;
//! - **complementary separation** ([`place_backup`]): when the swarm has more
//!   eligible peers than the replica count, no single peer is responsible for
//!   every shard of one backup.
//!
//! Pure and deterministic: every node computes the same sets from the same view,
//! and the simulator calls the very same functions. Joining or leaving moves only
//! the shards whose closest set the peer enters or leaves (about copies/N).

use crate::id::ShardId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// XOR-metric key of a peer or shard.
pub type Key = [u8; 32];

/// A peer as placement sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate<P> {
    pub peer: P,
    pub key: Key,
    pub zone: String,
    /// Bytes of others' shards the peer accepts.
    pub capacity: u64,
    pub used: u64,
    pub draining: bool,
    pub isolated: bool,
    /// Storage radius of a peer shedding load: responsible only for shards
    /// whose distance from its key is at most this. `None`: no limit.
    pub radius: Option<Key>,
}

impl<P> Candidate<P> {
    /// Whether the peer can take a shard of `size` bytes.
    pub fn eligible(&self, size: u64) -> bool {
        !self.draining && !self.isolated && self.used.saturating_add(size) <= self.capacity
    }

    /// Whether `shard` lies within the peer's storage radius.
    pub fn covers(&self, shard: &ShardId) -> bool {
        self.radius
            .is_none_or(|r| distance(&shard.0, &self.key) <= r)
    }
}

/// The storage radius a peer holding `held` (shard id, size) should announce
/// to keep at most `keep_bytes`: it keeps its closest shards by XOR distance
/// and sheds the farthest, so the shards it keeps are exactly those within the
/// radius. `None` when everything fits. The shards it sheds are those that a
/// peer with a smaller share of the key space would not have been given.
pub fn shed_radius(own: &Key, held: &[(ShardId, u64)], keep_bytes: u64) -> Option<Key> {
    let total: u64 = held.iter().map(|(_, s)| *s).sum();
    if total <= keep_bytes {
        return None;
    }
    let mut by_distance: Vec<(Key, u64)> = held
        .iter()
        .map(|(id, s)| (distance(&id.0, own), *s))
        .collect();
    by_distance.sort_unstable();
    let mut kept = 0u64;
    // Nothing kept: radius zero covers only a shard equal to the key itself.
    let mut radius = [0u8; 32];
    for (d, s) in by_distance {
        kept = kept.saturating_add(s);
        if kept > keep_bytes {
            break;
        }
        radius = d;
    }
    Some(radius)
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
    // Distances computed once per peer, not per comparison. Equal distances
    // mean equal keys (one peer listed twice); the index breaks the tie.
    let mut by_distance: Vec<(Key, usize)> = (0..peers.len())
        .filter(|&i| peers[i].eligible(size) && peers[i].covers(shard))
        .map(|i| (distance(&shard.0, &peers[i].key), i))
        .collect();
    by_distance.sort_unstable();
    let order: Vec<usize> = by_distance.into_iter().map(|(_, i)| i).collect();
    let mut chosen: Vec<usize> = Vec::with_capacity(copies);
    let mut zones: Vec<&str> = Vec::new();
    for &i in &order {
        if chosen.len() == copies {
            break;
        }
        if !zones.contains(&peers[i].zone.as_str()) {
            zones.push(&peers[i].zone);
            chosen.push(i);
        }
    }
    for &i in &order {
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn peers(n: usize, zones: usize) -> Vec<Candidate<u32>> {
        (0..n as u32)
            .map(|i| Candidate {
                peer: i,
                key: peer_key(&i.to_le_bytes()),
                zone: format!("z{}", i as usize % zones.max(1)),
                capacity: 1 << 40,
                used: 0,
                draining: false,
                isolated: false,
                radius: None,
            })
            .collect()
    }

    fn shard(i: u64) -> ShardId {
        ShardId::of(&i.to_le_bytes())
    }

    proptest! {
        #[test]
        fn deterministic_distinct_and_sized(n in 1usize..40, zones in 1usize..6, copies in 1usize..8, s in any::<u64>()) {
            let p = peers(n, zones);
            let a = responsible_set(&shard(s), 1, &p, copies);
            prop_assert_eq!(&a, &responsible_set(&shard(s), 1, &p, copies));
            prop_assert_eq!(a.len(), copies.min(n));
            prop_assert_eq!(a.iter().collect::<HashSet<_>>().len(), a.len());
            // Distinct zones while enough zones exist.
            let z: HashSet<String> = a.iter().map(|&i| p[i as usize].zone.clone()).collect();
            prop_assert_eq!(z.len(), a.len().min(zones.min(n)));
        }

        /// A longer responsible set only appends to a shorter one, so the
        /// whole placement order starts with every responsible set
        /// (the catalogue's floor is taken from what follows its slot).
        #[test]
        fn a_longer_set_extends_a_shorter_one(n in 1usize..40, zones in 1usize..6, a in 1usize..10, b in 1usize..40, s in any::<u64>()) {
            let p = peers(n, zones);
            let (short, long) = (a.min(b), a.max(b));
            let x = responsible_set(&shard(s), 1, &p, short);
            let y = responsible_set(&shard(s), 1, &p, long);
            prop_assert_eq!(&y[..x.len()], &x[..]);
        }

        #[test]
        fn skips_full_draining_isolated(n in 6usize..30, s in any::<u64>()) {
            let mut p = peers(n, 3);
            p[0].draining = true;
            p[1].isolated = true;
            p[2].used = p[2].capacity;
            let a = responsible_set(&shard(s), 10, &p, 3);
            prop_assert!(!a.contains(&0) && !a.contains(&1) && !a.contains(&2));
            prop_assert_eq!(a.len(), 3);
        }

        #[test]
        fn separation_holds(n in 4usize..12, k in 2usize..20, seed in any::<u64>()) {
            let p = peers(n, 1);
            let shards: Vec<(ShardId, u64)> = (0..k as u64).map(|i| (shard(seed.wrapping_add(i)), 1)).collect();
            let copies = 3usize;
            let sets = place_backup(&shards, &p, copies);
            for set in &sets {
                prop_assert_eq!(set.len(), copies);
                prop_assert_eq!(set.iter().collect::<HashSet<_>>().len(), copies);
            }
            if k * (n - copies) >= n {
                for peer in 0..n as u32 {
                    prop_assert!(!sets.iter().all(|s| s.contains(&peer)), "peer {} holds every shard", peer);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn shed_radius_keeps_the_closest_within_budget(
            sizes in proptest::collection::vec(1u64..5_000_000, 0..60),
            keep in 0u64..100_000_000,
            me in any::<u64>(),
        ) {
            let own = peer_key(&me.to_le_bytes());
            let held: Vec<(ShardId, u64)> = sizes.iter().enumerate().map(|(i, s)| (shard(i as u64), *s)).collect();
            let total: u64 = sizes.iter().sum();
            match shed_radius(&own, &held, keep) {
                None => prop_assert!(total <= keep),
                Some(r) => {
                    let inside: Vec<&(ShardId, u64)> = held.iter().filter(|(id, _)| distance(&id.0, &own) <= r).collect();
                    let kept: u64 = inside.iter().map(|(_, s)| *s).sum();
                    prop_assert!(kept <= keep, "kept {} > budget {}", kept, keep);
                    // Maximal: the closest shard outside would not have fitted.
                    let next = held.iter().filter(|(id, _)| distance(&id.0, &own) > r)
                        .min_by_key(|(id, _)| distance(&id.0, &own));
                    if let Some((_, s)) = next {
                        prop_assert!(kept + s > keep);
                    }
                    // A peer with that radius is responsible for none of the shed shards.
                    let mut p = peers(8, 1);
                    p[0].key = own;
                    p[0].radius = Some(r);
                    for (id, _) in &held {
                        let set = responsible_set(id, 1, &p, 8);
                        prop_assert_eq!(set.contains(&0), distance(&id.0, &own) <= r);
                    }
                }
            }
        }
    }

    #[test]
    fn join_or_leave_moves_about_copies_over_n() {
        let n = 50;
        let copies = 3;
        let p = peers(n, 1);
        let mut joined = p.clone();
        joined.extend(peers(n + 1, 1).into_iter().skip(n));
        let shards = 4000;
        let mut moved = 0;
        for s in 0..shards {
            let a: HashSet<u32> = responsible_set(&shard(s), 1, &p, copies)
                .into_iter()
                .collect();
            let b: HashSet<u32> = responsible_set(&shard(s), 1, &joined, copies)
                .into_iter()
                .collect();
            moved += a.difference(&b).count();
        }
        // Expected: each shard's set gains the new peer with probability copies/(n+1).
        let expected = shards as f64 * copies as f64 / (n + 1) as f64;
        let ratio = moved as f64 / expected;
        assert!(
            (0.7..1.3).contains(&ratio),
            "moved {moved}, expected about {expected:.0}"
        );
    }
}
