//! Placement's properties: determinism, zone spread, eligibility, separation,
//! shedding, and movement on join.

use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

pub(super) fn peers(n: usize, zones: usize) -> Vec<Candidate<u32>> {
    (0..n as u32)
        .map(|i| {
            Candidate::new(
                i,
                peer_key(&i.to_le_bytes()),
                format!("z{}", i as usize % zones.max(1)),
                1 << 40,
            )
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
        let mut p = peers(8, 1);
        p[0] = Candidate::new(0, peer_key(&me.to_le_bytes()), "z0".into(), 1 << 40);
        let own = p[0].vkeys.clone();
        let held: Vec<(ShardId, u64)> = sizes.iter().enumerate().map(|(i, s)| (shard(i as u64), *s)).collect();
        let total: u64 = sizes.iter().sum();
        match shed_radius(&own, &held, keep) {
            None => prop_assert!(total <= keep),
            Some(radius) => {
                let r = vkeys::prefix64(&radius);
                let inside: Vec<&(ShardId, u64)> = held.iter().filter(|(id, _)| own.nearest(id) <= r).collect();
                let kept: u64 = inside.iter().map(|(_, s)| *s).sum();
                prop_assert!(kept <= keep, "kept {} > budget {}", kept, keep);
                // Maximal: the closest shard outside would not have fitted.
                let next = held.iter().filter(|(id, _)| own.nearest(id) > r)
                    .min_by_key(|(id, _)| own.nearest(id));
                if let Some((_, s)) = next {
                    prop_assert!(kept + s > keep);
                }
                // A peer with that radius is responsible for none of the shed shards.
                p[0].radius = Some(radius);
                for (id, _) in &held {
                    let set = responsible_set(id, 1, &p, 8);
                    prop_assert_eq!(set.contains(&0), own.nearest(id) <= r);
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

/// Shares follow weights: peers with twice the capacity hold about twice as
/// many copies, and equal peers hold about equal shares.
#[test]
fn shares_follow_weights() {
    let mut p = peers(60, 1);
    for c in p.iter_mut().skip(30) {
        c.weight *= 2;
    }
    let mut held = vec![0u32; 60];
    for s in 0..30_000 {
        for i in responsible_set(&shard(s), 1, &p, 3) {
            held[i as usize] += 1;
        }
    }
    let light: u32 = held[..30].iter().sum();
    let heavy: u32 = held[30..].iter().sum();
    let ratio = f64::from(heavy) / f64::from(light);
    assert!((1.8..2.2).contains(&ratio), "heavy/light {ratio:.2}");
    let mean = f64::from(light) / 30.0;
    for (i, h) in held[..30].iter().enumerate() {
        let dev = f64::from(*h) / mean - 1.0;
        assert!(dev.abs() < 0.3, "peer {i} holds {h}, mean {mean:.0}");
    }
}

proptest! {
    /// The cap bounds every weight by 4x the median and leaves weights
    /// under it alone.
    #[test]
    fn capped_weights_stay_within_four_medians(ws in proptest::collection::vec(1u64..(1 << 24), 1..50)) {
        let mut p = peers(ws.len(), 3);
        for (c, w) in p.iter_mut().zip(&ws) {
            c.weight = *w;
        }
        cap_weights(&mut p);
        let mut sorted = ws.clone();
        sorted.sort_unstable();
        let cap = sorted[ws.len() / 2] * vkeys::MAX_OVER_MEDIAN;
        for (c, w) in p.iter().zip(&ws) {
            prop_assert_eq!(c.weight, (*w).min(cap));
        }
    }
}

/// A peer that claims the largest capacity among 30 honest 1 TiB peers
/// attracts four honest peers' share after the cap, not 16.
#[test]
fn a_peer_lying_about_its_capacity_gets_four_shares_not_sixteen() {
    let mut p = peers(31, 1);
    p[30].weight = weight(16 << 40);
    let share = |p: &[Candidate<u32>]| {
        let mut liar = 0u32;
        for s in 0..20_000 {
            liar += u32::from(responsible_set(&shard(s), 1, p, 3).contains(&30));
        }
        f64::from(liar) / 20_000.0
    };
    let uncapped = share(&p);
    cap_weights(&mut p);
    let capped = share(&p);
    eprintln!("liar in {uncapped:.3} of the sets uncapped, {capped:.3} capped");
    // Each honest peer holds about 3/31 of the sets (one in ten).
    assert!(uncapped > 0.6, "uncapped liar in {uncapped:.2} of the sets");
    assert!(
        (0.25..0.4).contains(&capped),
        "capped liar in {capped:.2} of the sets"
    );
}
