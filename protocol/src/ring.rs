//! Ring neighbours and when to speak: the pure half of change-only
//! membership (`docs/membership.md`).
//!
//! A node no longer hears every peer's heartbeat every period. It watches
//! its own [`WATCH_EACH_SIDE`] successors and predecessors on the ring of
//! peer keys, probing them directly, and publishes its own heartbeat only
//! when something in it changed (or a slow refresh is due). Every peer is
//! then watched by `2 × WATCH_EACH_SIDE` others whatever the swarm's size,
//! so failure detection costs a constant per node instead of growing with
//! the number of nodes. Both rules are here, without I/O, so they can be
//! property-tested and used by the node and the simulator alike.

use crate::gossip::Heartbeat;
use crate::placement::Key;

/// Successors and predecessors each node watches.
pub const WATCH_EACH_SIDE: usize = 8;

/// The peers `own` watches: its `k` successors and `k` predecessors on the
/// ring of `peers` sorted by key (all of them when there are at most `2k`).
/// `peers` must not contain `own`'s key; ties between equal keys are broken
/// by the peer itself, so every node computes the same ring.
pub fn neighbours<P: Copy + Ord>(own: &Key, peers: &[(P, Key)], k: usize) -> Vec<P> {
    let mut ring: Vec<(Key, P)> = peers.iter().map(|(p, key)| (*key, *p)).collect();
    ring.sort_unstable();
    ring.dedup_by(|a, b| a.1 == b.1);
    let n = ring.len();
    if n <= 2 * k {
        return ring.into_iter().map(|(_, p)| p).collect();
    }
    // First peer after `own` clockwise.
    let at = ring.partition_point(|(key, _)| key <= own);
    let mut out = Vec::with_capacity(2 * k);
    for i in 0..k {
        out.push(ring[(at + i) % n].1);
        out.push(ring[(at + n - 1 - i) % n].1);
    }
    out
}

/// How far `used` must move, as a share of capacity (1/50 = 2 points), before
/// it is worth a heartbeat of its own. Utilisation is read by rebalancing,
/// which acts on differences of tens of points.
pub const USED_STEP_DIVISOR: u64 = 50;

/// Whether `now` differs from the heartbeat last published enough to be
/// published: anything placement, dialling or operators read changed, or
/// `used` moved by at least a [`USED_STEP_DIVISOR`]th of capacity.
pub fn worth_publishing(last: Option<&Heartbeat>, now: &Heartbeat) -> bool {
    let Some(last) = last else {
        return true;
    };
    if last.zone != now.zone
        || last.capacity != now.capacity
        || last.version != now.version
        || last.addrs != now.addrs
        || last.draining != now.draining
        || last.radius != now.radius
    {
        return true;
    }
    let step = (now.capacity / USED_STEP_DIVISOR).max(1);
    last.used.abs_diff(now.used) >= step
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn key(i: u32) -> Key {
        *blake3::hash(&i.to_le_bytes()).as_bytes()
    }

    fn hb(used: u64) -> Heartbeat {
        Heartbeat {
            zone: "a".into(),
            capacity: 1000,
            used,
            version: "1".into(),
            addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
            draining: false,
            radius: None,
        }
    }

    #[test]
    fn a_small_swarm_watches_everyone() {
        let peers: Vec<(u32, Key)> = (1..=10).map(|i| (i, key(i))).collect();
        let mut w = neighbours(&key(0), &peers, 8);
        w.sort();
        assert_eq!(w, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn publishing_waits_for_a_change_worth_telling() {
        assert!(worth_publishing(None, &hb(0)), "the first one always");
        assert!(
            !worth_publishing(Some(&hb(0)), &hb(19)),
            "under 2% of capacity"
        );
        assert!(worth_publishing(Some(&hb(0)), &hb(20)));
        assert!(worth_publishing(Some(&hb(40)), &hb(20)), "freed space too");
        let mut draining = hb(0);
        draining.draining = true;
        assert!(worth_publishing(Some(&hb(0)), &draining));
        let mut moved = hb(0);
        moved.addrs.push("/ip4/127.0.0.1/tcp/2".into());
        assert!(worth_publishing(Some(&hb(0)), &moved));
        let mut empty = hb(0);
        empty.capacity = 0;
        assert!(!worth_publishing(Some(&empty), &empty.clone()));
    }

    proptest! {
        /// Every peer is watched by exactly min(n - 1, 2k) others, and each
        /// watcher watches min(n - 1, 2k) distinct peers other than itself:
        /// detection costs the same per node at any size.
        #[test]
        fn each_peer_has_a_constant_number_of_watchers(n in 1usize..80, k in 1usize..10) {
            let all: Vec<(u32, Key)> = (0..n as u32).map(|i| (i, key(i))).collect();
            let mut watchers: HashMap<u32, usize> = HashMap::new();
            for (me, my_key) in &all {
                let others: Vec<(u32, Key)> = all.iter().filter(|(p, _)| p != me).copied().collect();
                let w = neighbours(my_key, &others, k);
                let mut distinct = w.clone();
                distinct.sort();
                distinct.dedup();
                prop_assert_eq!(distinct.len(), w.len());
                prop_assert_eq!(w.len(), (n - 1).min(2 * k));
                prop_assert!(!w.contains(me));
                for p in w {
                    *watchers.entry(p).or_default() += 1;
                }
            }
            for (p, _) in &all {
                prop_assert_eq!(watchers.get(p).copied().unwrap_or(0), (n - 1).min(2 * k));
            }
        }
    }
}
