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
        heavy_every in 1usize..9,
        seed in any::<u64>(),
    ) {
        let peers: Vec<Candidate<u32>> = (0..n as u32)
            .map(|i| {
                let mut c = Candidate::new(
                    i,
                    peer_key(&(seed ^ i as u64).to_le_bytes()),
                    format!("z{}", (i as usize * 7 + 3) % zones),
                    100 << 20,
                );
                c.weight *= 1 + u64::from((i as usize).is_multiple_of(heavy_every)) * 3;
                c.used = if (i as usize).is_multiple_of(full_every) { 100 << 20 } else { 0 };
                c.draining = i % 31 == 5;
                c.radius = (i % 13 == 1).then(|| { let mut r = [0u8; 32]; r[0] = 0x3f; r });
                c
            })
            .collect();
        // Built in two halves through upsert/remove: the incremental path.
        let mut index = PlacementIndex::new(peers[..n / 2].to_vec());
        for c in &peers[n / 2..] {
            index.upsert(c.clone());
        }
        let mut gone = peers[0].clone();
        gone.key = [0xff; 32];
        gone.vkeys = placement::VirtualKeys::of(&gone.key);
        index.upsert(gone);
        index.remove(&[0xff; 32]);
        index.upsert(peers[0].clone());
        prop_assert_eq!(index.len(), n);
        for s in 0..40u64 {
            let id = ShardId::of(&seed.wrapping_add(s.wrapping_mul(7919)).to_le_bytes());
            prop_assert_eq!(
                index.responsible_set(&id, 1, copies),
                placement::responsible_set(&id, 1, &peers, copies)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// What `ranked` promises a cache: a change none of whose entries
    /// come within the horizon, with the zone count unchanged, leaves
    /// the set as it was.
    #[test]
    fn a_set_stays_while_no_change_reaches_its_horizon(
        n in 80usize..500,
        zones in 1usize..9,
        copies in 1usize..10,
        add in any::<bool>(),
        heavy in 1u64..6,
        seed in any::<u64>(),
    ) {
        let peer = |i: u32| {
            let mut c = Candidate::new(
                i,
                peer_key(&(seed ^ u64::from(i)).to_le_bytes()),
                format!("z{}", (i as usize * 5 + 1) % zones),
                100 << 20,
            );
            c.weight *= 1 + u64::from(i % 7 == 3) * heavy;
            c.draining = i % 29 == 4;
            c
        };
        let peers: Vec<Candidate<u32>> = (0..n as u32).map(peer).collect();
        let before = PlacementIndex::new(peers.clone());
        let mut after = before.clone();
        let changed = if add {
            let c = peer(n as u32 + 1);
            after.upsert(c.clone());
            c
        } else {
            let c = peers[(seed % n as u64) as usize].clone();
            after.remove(&c.key);
            c
        };
        let mut kept = 0;
        for s in 0..60u64 {
            let id = ShardId::of(&seed.wrapping_add(s.wrapping_mul(104_729)).to_le_bytes());
            let r = before.ranked(&id, 1, copies);
            let Some(horizon) = r.horizon else { continue };
            let sp = prefix64(&id.0);
            let near = changed
                .vkeys
                .as_slice()
                .iter()
                .any(|&k| reach(k ^ sp, changed.weight) <= horizon);
            if !near && after.zone_count() == before.zone_count() {
                kept += 1;
                prop_assert_eq!(&after.responsible_set(&id, 1, copies), &r.set);
            }
        }
        // The property is not vacuous: most changes are far from most shards.
        prop_assert!(kept > 0 || after.zone_count() != before.zone_count());
    }
}

/// The balance placement is for: 1,000 equal peers in 8 zones, 3 copies
/// of 200,000 shards: every peer within 25% of the mean.
#[test]
fn a_thousand_equal_peers_hold_within_a_quarter_of_the_mean() {
    let n = 1000u32;
    let index = PlacementIndex::new(
        (0..n)
            .map(|i| {
                Candidate::new(
                    i,
                    peer_key(&i.to_le_bytes()),
                    format!("z{}", i % 8),
                    1 << 40,
                )
            })
            .collect(),
    );
    let mut held = vec![0u32; n as usize];
    for s in 0..200_000u64 {
        for p in index.responsible_set(&ShardId::of(&s.to_le_bytes()), 1, 3) {
            held[p as usize] += 1;
        }
    }
    let mean = 600.0;
    let (lo, hi) = (
        held.iter().min().copied().unwrap_or(0),
        held.iter().max().copied().unwrap_or(0),
    );
    assert!(
        f64::from(lo) > 0.75 * mean && f64::from(hi) < 1.25 * mean,
        "held {lo}..{hi} copies, mean {mean}"
    );
}
