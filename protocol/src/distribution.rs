//! Where an owner's shards are, swarm-wide (`distribution status`): from the
//! copies proven just now for each shard (the node's own healthy copy and
//! peers' sampled proofs, never a peer's word), the replication histogram,
//! zone spread, the shards below their tier's target, how the copies are
//! spread over holders, and whether the separation promise holds: no single
//! peer but the owner's own node holds every shard of a backup.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Shards listed by name below target, at most (the counts stay exact).
pub const MAX_LISTED: usize = 100;

/// One proven copy: who holds it, in which zone (as the holder announced
/// it: a zone is a claim, so zone spread is what peers say, copies are
/// what they proved).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Holder {
    pub peer: String,
    pub zone: String,
}

/// One shard of one backup and its proven copies.
#[derive(Clone, Debug)]
pub struct ShardCopies {
    pub shard: String,
    pub backup: String,
    pub bytes: u64,
    /// Copies its tier wants.
    pub wanted: usize,
    pub holders: Vec<Holder>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupSpread {
    pub backup: String,
    pub shards: u64,
    pub bytes: u64,
    pub wanted: usize,
    /// (proven copies, shards with that many), fewest first.
    pub histogram: Vec<(usize, u64)>,
    pub below_target: u64,
    /// Shards with no proven copy at all.
    pub lost: u64,
    /// Fewest distinct zones any shard's copies are in.
    pub min_zones: usize,
    /// Peers (other than the owner's node) holding every shard of the
    /// backup: each could reconstruct its ciphertext alone. Empty when
    /// separation holds.
    pub whole_holders: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HolderShare {
    pub peer: String,
    pub zone: String,
    pub shards: u64,
    pub bytes: u64,
    /// Share of all proven copies' bytes.
    pub share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BelowTarget {
    pub shard: String,
    pub backup: String,
    pub proven: usize,
    pub wanted: usize,
    pub zones: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub shards: u64,
    pub bytes: u64,
    /// (proven copies, shards), over every backup.
    pub histogram: Vec<(usize, u64)>,
    /// (distinct zones of a shard's copies, shards).
    pub zone_spread: Vec<(usize, u64)>,
    pub below_target: u64,
    pub lost: u64,
    pub backups: Vec<BackupSpread>,
    /// Holders by bytes held, most first.
    pub holders: Vec<HolderShare>,
    /// The first `MAX_LISTED` shards below target, fewest copies first.
    pub below: Vec<BelowTarget>,
}

fn zones(h: &[Holder]) -> usize {
    h.iter().map(|h| &h.zone).collect::<BTreeSet<_>>().len()
}

/// The swarm-wide view of `shards`; `local` is the owner's own node, which
/// may hold everything (it has the key anyway). A shard shared by two
/// backups (dedup) appears once per backup, and once in the totals.
pub fn summarise(shards: &[ShardCopies], local: &str) -> Distribution {
    let mut d = Distribution::default();
    let mut hist: BTreeMap<usize, u64> = BTreeMap::new();
    let mut spread: BTreeMap<usize, u64> = BTreeMap::new();
    let mut held: HashMap<&Holder, (u64, u64)> = HashMap::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut per_backup: BTreeMap<&str, Vec<&ShardCopies>> = BTreeMap::new();
    for s in shards {
        per_backup.entry(&s.backup).or_default().push(s);
        // Distinct holders only: a peer proving twice is one copy.
        let holders: BTreeSet<&Holder> = s.holders.iter().collect();
        if !seen.insert(&s.shard) {
            continue;
        }
        d.shards += 1;
        d.bytes += s.bytes;
        *hist.entry(holders.len()).or_default() += 1;
        let z = holders
            .iter()
            .map(|h| &h.zone)
            .collect::<BTreeSet<_>>()
            .len();
        *spread.entry(z).or_default() += 1;
        d.below_target += u64::from(holders.len() < s.wanted);
        d.lost += u64::from(holders.is_empty());
        if holders.len() < s.wanted {
            d.below.push(BelowTarget {
                shard: s.shard.clone(),
                backup: s.backup.clone(),
                proven: holders.len(),
                wanted: s.wanted,
                zones: z,
            });
        }
        for h in holders {
            let e = held.entry(h).or_default();
            e.0 += 1;
            e.1 += s.bytes;
        }
    }
    d.histogram = hist.into_iter().collect();
    d.zone_spread = spread.into_iter().collect();
    d.below
        .sort_by(|a, b| (a.proven, &a.shard).cmp(&(b.proven, &b.shard)));
    d.below.truncate(MAX_LISTED);
    let total: u64 = held.values().map(|(_, b)| b).sum();
    d.holders = held
        .into_iter()
        .map(|(h, (n, b))| HolderShare {
            peer: h.peer.clone(),
            zone: h.zone.clone(),
            shards: n,
            bytes: b,
            share: if total == 0 {
                0.0
            } else {
                b as f64 / total as f64
            },
        })
        .collect();
    d.holders
        .sort_by(|a, b| (b.bytes, &a.peer).cmp(&(a.bytes, &b.peer)));
    d.backups = per_backup
        .into_iter()
        .map(|(id, list)| backup_spread(id, &list, local))
        .collect();
    d
}

fn backup_spread(id: &str, list: &[&ShardCopies], local: &str) -> BackupSpread {
    let mut b = BackupSpread {
        backup: id.into(),
        min_zones: usize::MAX,
        ..Default::default()
    };
    let mut hist: BTreeMap<usize, u64> = BTreeMap::new();
    let mut whole: Option<BTreeSet<&str>> = None;
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for s in list {
        if !seen.insert(&s.shard) {
            continue;
        }
        let peers: BTreeSet<&str> = s.holders.iter().map(|h| h.peer.as_str()).collect();
        b.shards += 1;
        b.bytes += s.bytes;
        b.wanted = b.wanted.max(s.wanted);
        *hist.entry(peers.len()).or_default() += 1;
        b.below_target += u64::from(peers.len() < s.wanted);
        b.lost += u64::from(peers.is_empty());
        b.min_zones = b.min_zones.min(zones(&s.holders));
        whole = Some(match whole {
            None => peers,
            Some(w) => w.intersection(&peers).copied().collect(),
        });
    }
    if b.shards == 0 {
        b.min_zones = 0;
    }
    b.histogram = hist.into_iter().collect();
    b.whole_holders = whole
        .unwrap_or_default()
        .into_iter()
        .filter(|p| *p != local)
        .map(String::from)
        .collect();
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(p: &str, z: &str) -> Holder {
        Holder {
            peer: p.into(),
            zone: z.into(),
        }
    }

    fn shard(id: &str, backup: &str, wanted: usize, holders: Vec<Holder>) -> ShardCopies {
        ShardCopies {
            shard: id.into(),
            backup: backup.into(),
            bytes: 100,
            wanted,
            holders,
        }
    }

    #[test]
    fn a_backup_on_three_zones_is_whole_and_separated() {
        let s = vec![
            shard(
                "a",
                "B",
                3,
                vec![h("me", "z0"), h("p1", "z1"), h("p2", "z2")],
            ),
            shard(
                "b",
                "B",
                3,
                vec![h("me", "z0"), h("p2", "z2"), h("p3", "z1")],
            ),
            shard("c", "B", 3, vec![h("p1", "z1")]),
        ];
        let d = summarise(&s, "me");
        assert_eq!(d.histogram, vec![(1, 1), (3, 2)]);
        assert_eq!((d.below_target, d.lost), (1, 0));
        assert_eq!(d.below[0].shard, "c");
        assert_eq!(d.zone_spread, vec![(1, 1), (3, 2)]);
        assert!(d.backups[0].whole_holders.is_empty());
        assert_eq!(d.backups[0].min_zones, 1);
        let p1 = d.holders.iter().find(|h| h.peer == "p1").unwrap();
        assert_eq!((p1.shards, p1.bytes), (2, 200));
        assert_eq!(d.holders.len(), 4);
    }

    #[test]
    fn one_peer_with_every_shard_breaks_separation() {
        let s = vec![
            shard("a", "B", 2, vec![h("me", "z0"), h("spy", "z1")]),
            shard("b", "B", 2, vec![h("spy", "z1"), h("p2", "z2")]),
            shard("c", "C", 2, vec![]),
        ];
        let d = summarise(&s, "me");
        assert_eq!(d.backups[0].whole_holders, vec!["spy".to_string()]);
        assert_eq!((d.backups[1].lost, d.lost), (1, 1));
    }

    /// Shards of up to three backups; a shard's holders are the same
    /// wherever it appears (they are proven once per shard).
    fn copies() -> impl Strategy<Value = Vec<ShardCopies>> {
        let holders = prop::collection::vec(prop::collection::vec((0u8..6, 0u8..3), 0..6), 20);
        let uses = prop::collection::vec((0usize..20, 0u8..3, 1usize..5), 0..40);
        (holders, uses).prop_map(|(holders, uses)| {
            uses.into_iter()
                .map(|(id, b, wanted)| {
                    shard(
                        &format!("s{id}"),
                        &format!("b{b}"),
                        wanted,
                        holders[id]
                            .iter()
                            .map(|(p, _)| h(&format!("p{p}"), &format!("z{}", p % 3)))
                            .collect(),
                    )
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn counts_add_up(s in copies()) {
            let d = summarise(&s, "p0");
            let distinct: BTreeSet<&str> = s.iter().map(|x| x.shard.as_str()).collect();
            prop_assert_eq!(d.shards, distinct.len() as u64);
            prop_assert_eq!(d.histogram.iter().map(|(_, n)| n).sum::<u64>(), d.shards);
            prop_assert_eq!(d.zone_spread.iter().map(|(_, n)| n).sum::<u64>(), d.shards);
            prop_assert!(d.lost <= d.below_target);
            prop_assert!(d.below.len() as u64 <= d.below_target);
            let share: f64 = d.holders.iter().map(|h| h.share).sum();
            prop_assert!(d.holders.is_empty() || (share - 1.0).abs() < 1e-9);
            for b in &d.backups {
                prop_assert_eq!(b.histogram.iter().map(|(_, n)| n).sum::<u64>(), b.shards);
                prop_assert!(!b.whole_holders.contains(&"p0".to_string()));
                // A whole holder really holds every shard of the backup.
                for w in &b.whole_holders {
                    for x in s.iter().filter(|x| x.backup == b.backup) {
                        prop_assert!(x.holders.iter().any(|h| &h.peer == w));
                    }
                }
            }
        }
    }
}
