//! Repair and handoff decisions for one shard a node holds, from its
//! responsible set and the holders that confirmed a healthy copy just now.
//!
//! Every holder computes the same responsible set from its membership view. The
//! *coordinator* (the first responsible peer holding a copy, or, when no
//! responsible peer holds one, every holder) copies the shard to the
//! responsible peers that lack it: **repair** when fewer healthy copies exist
//! than the tier wants, **handoff** when the copies exist but on peers that are
//! no longer responsible (a holder drains, or fell more than [`SPILL`] places
//! behind joiners: [`keep_in_place`] keeps nearer holders in the set). A holder outside
//! the responsible set drops its copy only once *all* wanted copies are
//! confirmed on responsible peers: no decision here ever removes a last or
//! below-target copy. Pure, so the simulator uses it too.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// Fewer healthy copies than wanted.
    Repair,
    /// Enough copies, but a responsible peer lacks one.
    Handoff,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<P> {
    /// Copies this node should send now.
    pub send_to: Vec<P>,
    pub reason: Reason,
    /// This node's copy is redundant and may be removed.
    pub drop_local: bool,
    /// Healthy copies known (this node's included).
    pub copies: usize,
    pub wanted: usize,
}

/// Decides for one shard. `responsible` is in placement order (live and suspect
/// peers: a briefly silent peer keeps its place); `holders` are the remote peers
/// that confirmed a healthy copy; `reachable(p)` says whether `p` may receive a
/// transfer now (live, not suspect); `trusted(p)` whether `p`'s copy may
/// justify removing this node's (proven in this round by a vetted, not
/// isolated peer: a copy only claimed, or held by a new peer, never does).
pub fn decide<P: PartialEq + Clone>(
    local: &P,
    responsible: &[P],
    holders: &[P],
    reachable: impl Fn(&P) -> bool,
    trusted: impl Fn(&P) -> bool,
    wanted: usize,
) -> Decision<P> {
    let holds = |p: &P| p == local || holders.contains(p);
    let local_responsible = responsible.contains(local);
    let copies = 1 + holders.iter().filter(|h| *h != local).count();
    let coordinator = match responsible.iter().find(|p| holds(p)) {
        Some(first) => first == local,
        None => true,
    };
    let send_to: Vec<P> = if coordinator {
        responsible
            .iter()
            .filter(|p| !holds(p) && *p != local && reachable(p))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let remote_trusted = responsible
        .iter()
        .filter(|p| *p != local && holders.contains(p) && trusted(p))
        .count();
    Decision {
        send_to,
        reason: if copies < wanted {
            Reason::Repair
        } else {
            Reason::Handoff
        },
        drop_local: !local_responsible && wanted > 0 && remote_trusted >= wanted,
        copies,
        wanted,
    }
}

/// Places past the responsible set that repair looks at when peers in it are
/// full (see [`spill`]).
pub const SPILL: usize = 2;

/// The responsible set repair works towards, from `ranked`: placement's first
/// `wanted + SPILL` peers for the shard, in order. A peer that holds the shard
/// keeps its place however full it is (responsibility for held shards must not
/// follow fill levels, or a full peer flaps); a peer that lacks the shard and
/// cannot take it gives its place to the next one. Without this, a full
/// peer in the set would hold every shard it lacks below target for good.
/// (The node also counts a peer whose claimed copy just failed its proof as
/// unable to take it: a liar or a broken disk must not keep a place it does
/// not fill.)
pub fn spill<P: Clone>(
    ranked: &[P],
    wanted: usize,
    holds: impl Fn(&P) -> bool,
    can_take: impl Fn(&P) -> bool,
) -> Vec<P> {
    ranked
        .iter()
        .filter(|p| holds(p) || can_take(p))
        .take(wanted)
        .cloned()
        .collect()
}

/// The responsible set with **lazy handoff**: like [`spill`], but a holder
/// anywhere in `ranked` (placement's first `wanted + SPILL`) keeps its place
/// ahead of a closer peer that lacks the shard. A joiner that ranks ahead of
/// a holder therefore takes no copy until the holder falls more than `SPILL`
/// places behind, or a copy is missing anyway (then it is the first to get
/// one). Without this, every join moved `copies × its share` of the data,
/// which was two fifths of all repair traffic in the model's year of 10,000
/// nodes (Storj does not rebalance on join at all).
///
/// Holders keep their places only if the set then spans as many zones as
/// [`spill`]'s: a peer that joins in a zone the copies are missing from
/// still gets its copy. With more holders in `ranked` than `wanted`, the
/// closest keep their places and the rest are surplus, as before.
pub fn keep_in_place<P: Clone + PartialEq, Z: PartialEq>(
    ranked: &[P],
    wanted: usize,
    holds: impl Fn(&P) -> bool,
    can_take: impl Fn(&P) -> bool,
    zone: impl Fn(&P) -> Z,
) -> Vec<P> {
    let strict = spill(ranked, wanted, &holds, &can_take);
    let kept: Vec<&P> = ranked.iter().filter(|p| holds(p)).take(wanted).collect();
    let mut room = strict.len().saturating_sub(kept.len());
    let lazy: Vec<P> = ranked
        .iter()
        .filter(|p| {
            if kept.contains(p) {
                true
            } else if room > 0 && !holds(p) && can_take(p) {
                room -= 1;
                true
            } else {
                false
            }
        })
        .cloned()
        .collect();
    let zones = |set: &[P]| {
        let mut seen: Vec<Z> = Vec::new();
        for z in set.iter().map(&zone) {
            if !seen.contains(&z) {
                seen.push(z);
            }
        }
        seen.len()
    };
    if lazy.len() >= strict.len() && zones(&lazy) >= zones(&strict) {
        lazy
    } else {
        strict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_drops_below_target_and_sends_sensibly(
            n in 1u8..12,
            resp_mask in any::<u16>(),
            hold_mask in any::<u16>(),
            down_mask in any::<u16>(),
            trust_mask in any::<u16>(),
            wanted in 1usize..8,
            local in 0u8..12,
        ) {
            let peers: Vec<u8> = (0..n).collect();
            let local = local % n;
            let responsible: Vec<u8> = peers.iter().copied().filter(|p| resp_mask & (1 << p) != 0).take(wanted).collect();
            let holders: Vec<u8> = peers.iter().copied().filter(|p| hold_mask & (1 << p) != 0 && *p != local).collect();
            let d = decide(&local, &responsible, &holders, |p| down_mask & (1 << p) == 0, |p| trust_mask & (1 << p) != 0, wanted);
            if d.drop_local {
                prop_assert!(!responsible.contains(&local));
                let elsewhere = responsible.iter().filter(|p| holders.contains(p) && trust_mask & (1 << *p) != 0).count();
                prop_assert!(elsewhere >= wanted, "dropped with {} copies elsewhere, {} wanted", elsewhere, wanted);
            }
            for t in &d.send_to {
                prop_assert!(responsible.contains(t));
                prop_assert!(!holders.contains(t));
                prop_assert!(*t != local);
                prop_assert!(down_mask & (1 << t) == 0);
            }
        }
    }

    proptest! {
        #[test]
        fn spill_keeps_holders_and_skips_only_full_non_holders(
            n in 1usize..10, wanted in 1usize..6, hold in any::<u16>(), room in any::<u16>(),
        ) {
            let ranked: Vec<u8> = (0..n as u8).collect();
            let holds = |p: &u8| hold & (1 << p) != 0;
            let has_room = |p: &u8| room & (1 << p) != 0;
            let r = spill(&ranked, wanted, holds, has_room);
            prop_assert!(r.len() <= wanted);
            // In placement order, a subsequence of the ranking.
            prop_assert!(r.windows(2).all(|w| w[0] < w[1]));
            for p in &r {
                prop_assert!(holds(p) || has_room(p));
            }
            // Every holder among the first `wanted` keeps its place.
            for p in ranked.iter().take(wanted).filter(|p| holds(p)) {
                prop_assert!(r.contains(p));
            }
            // With nobody full, the set is placement's own.
            let all = spill(&ranked, wanted, |_| false, |_| true);
            prop_assert_eq!(all, ranked.iter().take(wanted).copied().collect::<Vec<_>>());
        }
    }

    proptest! {
        #[test]
        fn keep_in_place_moves_no_more_than_spill(
            n in 1usize..10, wanted in 1usize..6, hold in any::<u16>(), room in any::<u16>(),
            zone in proptest::collection::vec(0u8..3, 10),
        ) {
            let ranked: Vec<u8> = (0..n as u8).collect();
            let holds = |p: &u8| hold & (1 << p) != 0;
            let has_room = |p: &u8| room & (1 << p) != 0;
            let z = |p: &u8| zone[*p as usize];
            let strict = spill(&ranked, wanted, holds, has_room);
            let r = keep_in_place(&ranked, wanted, holds, has_room, z);
            prop_assert_eq!(r.len(), strict.len());
            prop_assert!(r.windows(2).all(|w| w[0] < w[1]));
            for p in &r {
                prop_assert!(holds(p) || has_room(p));
            }
            // Never more peers to send to than placement's own set has.
            let lacking = |set: &[u8]| set.iter().filter(|p| !holds(p)).count();
            prop_assert!(lacking(&r) <= lacking(&strict));
            // Every holder that spill keeps, this keeps (its place is never
            // given to a peer without the shard).
            for p in strict.iter().filter(|p| holds(p)) {
                prop_assert!(r.contains(p), "{} lost its place", p);
            }
            let zones = |set: &[u8]| set.iter().map(&z).collect::<std::collections::BTreeSet<_>>().len();
            prop_assert!(zones(&r) >= zones(&strict));
            // With no holder it is placement's (spill's) set.
            let none = keep_in_place(&ranked, wanted, |_| false, has_room, z);
            prop_assert_eq!(none, spill(&ranked, wanted, |_| false, has_room));
        }
    }

    #[test]
    fn a_joiner_ahead_of_the_holders_takes_nothing() {
        // 0 joined ahead of holders 1, 2, 3; all in zones of their own.
        let r = keep_in_place(
            &[0, 1, 2, 3, 4],
            3,
            |p| (1..=3).contains(p),
            |_| true,
            |p| *p,
        );
        assert_eq!(r, vec![1, 2, 3]);
        // Holder 3 fell more than SPILL places behind: out of `ranked`.
        let r = keep_in_place(
            &[0, 5, 6, 1, 2],
            3,
            |p| (1..=3).contains(p),
            |_| true,
            |p| *p,
        );
        assert_eq!(r, vec![0, 1, 2]);
        // A copy is missing: the joiner is first to get it.
        let r = keep_in_place(
            &[0, 1, 2, 3, 4],
            3,
            |p| (1..=2).contains(p),
            |_| true,
            |p| *p,
        );
        assert_eq!(r, vec![0, 1, 2]);
        // The joiner brings a zone the copies lack: it takes its place.
        let r = keep_in_place(
            &[0, 1, 2, 3, 4],
            3,
            |p| (1..=3).contains(p),
            |_| true,
            |p| u8::from(*p != 0),
        );
        assert_eq!(r, vec![0, 1, 2]);
    }

    #[test]
    fn handoff_then_drop() {
        // Peer 9 holds; the responsible set moved to 1,2,3 (9 drains).
        let d = decide(&9, &[1, 2, 3], &[], |_| true, |_| true, 3);
        assert_eq!(
            (d.send_to.clone(), d.drop_local, d.reason),
            (vec![1, 2, 3], false, Reason::Repair)
        );
        let d = decide(&9, &[1, 2, 3], &[1, 2], |_| true, |_| true, 3);
        assert_eq!(
            (d.send_to.clone(), d.drop_local),
            (vec![], false),
            "1 coordinates now"
        );
        let d = decide(&9, &[1, 2, 3], &[1, 2, 3], |_| true, |_| true, 3);
        assert!(d.drop_local);
    }

    #[test]
    fn repair_from_the_first_holder_only() {
        // 2 lost its copy; 1 (first responsible holder) repairs, 3 does not.
        let a = decide(&1, &[1, 2, 3], &[3], |_| true, |_| true, 3);
        assert_eq!((a.send_to, a.reason), (vec![2], Reason::Repair));
        let b = decide(&3, &[1, 2, 3], &[1], |_| true, |_| true, 3);
        assert!(b.send_to.is_empty());
        // A suspect peer gets nothing (it may come back with its copy).
        let c = decide(&1, &[1, 2, 3], &[3], |p| *p != 2, |_| true, 3);
        assert!(c.send_to.is_empty());
    }
}
