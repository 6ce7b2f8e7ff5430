//! Reconciliation of the member list by digest (`docs/membership.md`,
//! section 1). Gossip carries each change once and may miss a node that was
//! busy, cut off or not yet there; the slow refresh that used to heal such
//! gaps cost every node one gossiped heartbeat per member per refresh, the
//! term of the membership cost that grows with the swarm. Instead, a node
//! now and then sends one peer a hash per key-prefix bucket of the records
//! it holds, learns in one answer which records the peer holds newer, and
//! pulls only those. Two nodes that agree exchange 8 KiB and nothing more.
//!
//! An entry is a member's placement key and the signing time of its record:
//! a record is signed by its member, so a newer one can only come from the
//! member. Everything here is pure; the node moves the messages and checks
//! each record it pulls against its member's signature and age.

use crate::placement::Key;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Buckets of a digest: one per first byte of a member's placement key.
pub const BUCKETS: usize = 256;
/// Most summaries one answer may carry (the most members a view holds).
pub const MAX_SUMMARIES: usize = 50_000;
/// Most records one pull may ask for.
pub const MAX_WANTED: usize = 4096;

/// One member as a node knows it: its placement key and when its newest
/// record here was signed (unix seconds, the member's clock).
pub type Entry = (Key, u64);

/// A hash of each bucket's entries, in key order: equal lists give equal
/// digests, and a list that differs in one entry differs in one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest(pub Vec<[u8; 32]>);

/// What an answer tells of one member: the first 8 bytes of its key (enough
/// to ask for it: a collision with a given member costs 2^64 tries at making
/// peer ids) and its record's signing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub prefix: u64,
    pub issued_at: u64,
}

/// The bucket of a key.
pub fn bucket(key: &Key) -> usize {
    key[0] as usize
}

/// The first 8 bytes of a key, by which members are asked for.
pub fn prefix(key: &Key) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[..8]);
    u64::from_be_bytes(b)
}

fn sorted_by_bucket(entries: &[Entry]) -> Vec<Vec<Entry>> {
    let mut buckets = vec![Vec::new(); BUCKETS];
    for e in entries {
        buckets[bucket(&e.0)].push(*e);
    }
    for b in &mut buckets {
        b.sort_unstable();
    }
    buckets
}

impl Digest {
    /// The digest of a member list (order does not matter).
    pub fn of(entries: &[Entry]) -> Digest {
        let hashes = sorted_by_bucket(entries)
            .iter()
            .map(|b| {
                let mut h = blake3::Hasher::new_derive_key("shardnet member digest v1");
                for (key, issued) in b {
                    h.update(key);
                    h.update(&issued.to_be_bytes());
                }
                *h.finalize().as_bytes()
            })
            .collect();
        Digest(hashes)
    }

    /// Whether a digest from the wire has the right shape.
    pub fn well_formed(&self) -> bool {
        self.0.len() == BUCKETS
    }

    /// Buckets where `self` and `other` differ, in order (every bucket if
    /// `other` is malformed).
    pub fn differing(&self, other: &Digest) -> Vec<usize> {
        if !other.well_formed() || !self.well_formed() {
            return (0..BUCKETS).collect();
        }
        (0..BUCKETS).filter(|&i| self.0[i] != other.0[i]).collect()
    }
}

/// The answer to a digest: the summaries of this node's entries in the
/// buckets where the asker's digest differs from this node's, at most
/// [`MAX_SUMMARIES`].
pub fn answer(own: &[Entry], theirs: &Digest) -> Vec<Summary> {
    let mine = Digest::of(own);
    let differ = mine.differing(theirs);
    let mut wanted = [false; BUCKETS];
    for b in differ {
        wanted[b] = true;
    }
    own.iter()
        .filter(|(k, _)| wanted[bucket(k)])
        .take(MAX_SUMMARIES)
        .map(|(k, issued_at)| Summary {
            prefix: prefix(k),
            issued_at: *issued_at,
        })
        .collect()
}

/// The members to pull, by key prefix: those the answer knows and this node
/// does not, or knows by an older record; at most [`MAX_WANTED`], newest
/// first (a liar's answer cannot make a node pull more than that per round).
pub fn wanted(own: &[Entry], answer: &[Summary]) -> Vec<u64> {
    let mine: HashMap<u64, u64> = own.iter().map(|(k, t)| (prefix(k), *t)).collect();
    let mut out: Vec<&Summary> = answer
        .iter()
        .filter(|s| mine.get(&s.prefix).is_none_or(|t| *t < s.issued_at))
        .collect();
    out.sort_unstable_by(|a, b| b.issued_at.cmp(&a.issued_at).then(a.prefix.cmp(&b.prefix)));
    out.dedup_by_key(|s| s.prefix);
    out.into_iter().take(MAX_WANTED).map(|s| s.prefix).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u32) -> Key {
        *blake3::hash(&i.to_be_bytes()).as_bytes()
    }

    #[test]
    fn equal_lists_exchange_nothing() {
        let own: Vec<Entry> = (0..1000).map(|i| (key(i), 100 + i as u64)).collect();
        let mut shuffled = own.clone();
        shuffled.reverse();
        let d = Digest::of(&shuffled);
        assert_eq!(Digest::of(&own), d);
        assert!(answer(&own, &d).is_empty());
    }

    #[test]
    fn a_malformed_digest_gets_every_summary() {
        let own: Vec<Entry> = (0..10).map(|i| (key(i), 1)).collect();
        assert_eq!(answer(&own, &Digest(vec![[0; 32]; 3])).len(), 10);
        assert!(!Digest(vec![]).well_formed());
    }

    #[test]
    fn pulls_are_bounded_and_newest_first() {
        let theirs: Vec<Summary> = (0..(MAX_WANTED as u64 + 10))
            .map(|i| Summary {
                prefix: i,
                issued_at: i,
            })
            .collect();
        let w = wanted(&[], &theirs);
        assert_eq!(w.len(), MAX_WANTED);
        assert_eq!(w[0], MAX_WANTED as u64 + 9);
    }

    proptest! {
        /// After one exchange the asker holds, for every member, a record at
        /// least as new as the answerer's: it pulls exactly the members the
        /// answerer knows newer, and nothing it already has as new.
        #[test]
        fn one_exchange_brings_the_asker_up_to_date(
            common in proptest::collection::vec((0u32..5000, 0u64..1000), 0..300),
            only_a in proptest::collection::vec((5000u32..10_000, 0u64..1000), 0..50),
            only_b in proptest::collection::vec((10_000u32..15_000, 0u64..1000), 0..50),
            bumps in proptest::collection::vec((any::<prop::sample::Index>(), 1u64..5, any::<bool>()), 0..20),
        ) {
            let mut common: Vec<Entry> = common.iter().map(|(i, t)| (key(*i), *t)).collect();
            common.sort_unstable_by_key(|e| e.0);
            common.dedup_by_key(|e| e.0);
            let mut a: Vec<Entry> = common.clone();
            let mut b: Vec<Entry> = common.clone();
            a.extend(only_a.iter().map(|(i, t)| (key(*i), *t)));
            b.extend(only_b.iter().map(|(i, t)| (key(*i), *t)));
            for (ix, by, on_b) in &bumps {
                if common.is_empty() { break; }
                let i = ix.index(common.len());
                let side = if *on_b { &mut b } else { &mut a };
                side[i].1 += by;
            }
            let a_map: HashMap<Key, u64> = a.iter().copied().collect();
            let b_map: HashMap<Key, u64> = b.iter().copied().collect();
            let pulled = wanted(&a, &answer(&b, &Digest::of(&a)));
            let expect: std::collections::BTreeSet<u64> = b_map
                .iter()
                .filter(|(k, t)| a_map.get(*k).is_none_or(|at| at < *t))
                .map(|(k, _)| prefix(k))
                .collect();
            let got: std::collections::BTreeSet<u64> = pulled.iter().copied().collect();
            prop_assert_eq!(got, expect);
            // Identical lists answer nothing at all.
            prop_assert!(answer(&a, &Digest::of(&a)).is_empty());
        }

        /// Changing one entry changes exactly its own bucket's hash.
        #[test]
        fn one_change_moves_one_bucket(
            ids in proptest::collection::btree_set(0u32..100_000, 1..400),
            pick in any::<prop::sample::Index>(),
        ) {
            let own: Vec<Entry> = ids.iter().map(|i| (key(*i), 7)).collect();
            let mut changed = own.clone();
            let i = pick.index(own.len());
            changed[i].1 += 1;
            let d = Digest::of(&own).differing(&Digest::of(&changed));
            prop_assert_eq!(d, vec![bucket(&own[i].0)]);
        }
    }
}
