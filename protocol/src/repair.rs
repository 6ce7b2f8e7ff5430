//! Repair and handoff decisions for one shard a node holds, from its
//! responsible set and the holders that confirmed a healthy copy just now.
//!
//! Every holder computes the same responsible set from its membership view. The
//! *coordinator* (the first responsible peer holding a copy, or, when no
//! responsible peer holds one, every holder) copies the shard to the
//! responsible peers that lack it: **repair** when fewer healthy copies exist
//! than the tier wants, **handoff** when the copies exist but on peers that are
//! no longer responsible (a peer joined, or a holder drains). A holder outside
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
/// transfer now (live, not suspect).
pub fn decide<P: PartialEq + Clone>(
    local: &P,
    responsible: &[P],
    holders: &[P],
    reachable: impl Fn(&P) -> bool,
    wanted: usize,
) -> Decision<P> {
    let holds = |p: &P| p == local || holders.contains(p);
    let local_responsible = responsible.contains(local);
    let copies = 1 + holders.iter().filter(|h| *h != local).count();
    let confirmed_responsible = responsible.iter().filter(|p| holds(p)).count();
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
    let remote_responsible = confirmed_responsible - usize::from(local_responsible);
    Decision {
        send_to,
        reason: if copies < wanted {
            Reason::Repair
        } else {
            Reason::Handoff
        },
        drop_local: !local_responsible && wanted > 0 && remote_responsible >= wanted,
        copies,
        wanted,
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
            wanted in 1usize..8,
            local in 0u8..12,
        ) {
            let peers: Vec<u8> = (0..n).collect();
            let local = local % n;
            let responsible: Vec<u8> = peers.iter().copied().filter(|p| resp_mask & (1 << p) != 0).take(wanted).collect();
            let holders: Vec<u8> = peers.iter().copied().filter(|p| hold_mask & (1 << p) != 0 && *p != local).collect();
            let d = decide(&local, &responsible, &holders, |p| down_mask & (1 << p) == 0, wanted);
            if d.drop_local {
                prop_assert!(!responsible.contains(&local));
                let elsewhere = responsible.iter().filter(|p| holders.contains(p)).count();
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

    #[test]
    fn handoff_then_drop() {
        // Peer 9 holds; the responsible set moved to 1,2,3 (9 drains).
        let d = decide(&9, &[1, 2, 3], &[], |_| true, 3);
        assert_eq!(
            (d.send_to.clone(), d.drop_local, d.reason),
            (vec![1, 2, 3], false, Reason::Repair)
        );
        let d = decide(&9, &[1, 2, 3], &[1, 2], |_| true, 3);
        assert_eq!(
            (d.send_to.clone(), d.drop_local),
            (vec![], false),
            "1 coordinates now"
        );
        let d = decide(&9, &[1, 2, 3], &[1, 2, 3], |_| true, 3);
        assert!(d.drop_local);
    }

    #[test]
    fn repair_from_the_first_holder_only() {
        // 2 lost its copy; 1 (first responsible holder) repairs, 3 does not.
        let a = decide(&1, &[1, 2, 3], &[3], |_| true, 3);
        assert_eq!((a.send_to, a.reason), (vec![2], Reason::Repair));
        let b = decide(&3, &[1, 2, 3], &[1], |_| true, 3);
        assert!(b.send_to.is_empty());
        // A suspect peer gets nothing (it may come back with its copy).
        let c = decide(&1, &[1, 2, 3], &[3], |p| *p != 2, 3);
        assert!(c.send_to.is_empty());
    }
}
