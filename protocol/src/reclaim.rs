//! Emergency reclaim: how much a node over its disk threshold must free, and
//! which prune candidates free it, in the runbook's order (expired, then
//! orphaned, then redundant copies; what is still over after that is handed
//! off to peers by shedding, see the node's repair scan).
//!
//! Pure, so that `prune plan --reclaim SIZE`, the node's own reclaim and the
//! simulator choose alike.

use crate::prune::Class;

/// Above this share of the capacity (or of the disk) the node reclaims.
pub const THRESHOLD: f64 = 0.95;
/// ...down to this share.
pub const TARGET: f64 = 0.90;

/// How full the node is: its store against `--capacity`, and the disk the
/// store lives on (0 total: unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fill {
    pub used: u64,
    pub capacity: u64,
    pub disk_used: u64,
    pub disk_total: u64,
}

impl Fill {
    /// The fuller of the two, as a share (0 when neither is known).
    pub fn ratio(&self) -> f64 {
        let share = |u: u64, t: u64| if t == 0 { 0.0 } else { u as f64 / t as f64 };
        share(self.used, self.capacity).max(share(self.disk_used, self.disk_total))
    }
}

/// Bytes to free to get back to `target`, once either the store or the disk
/// is above `threshold`; `None` below it (nothing to do).
pub fn need(f: &Fill, threshold: f64, target: f64) -> Option<u64> {
    let over = |u: u64, t: u64| t > 0 && u as f64 > t as f64 * threshold;
    if !over(f.used, f.capacity) && !over(f.disk_used, f.disk_total) {
        return None;
    }
    let excess = |u: u64, t: u64| {
        if t == 0 {
            0
        } else {
            u.saturating_sub((t as f64 * target) as u64)
        }
    };
    Some(excess(f.used, f.capacity).max(excess(f.disk_used, f.disk_total)))
}

/// The order in which classes are reclaimed: no live owner wants the first
/// two; redundant copies have enough proven copies elsewhere.
pub fn rank(c: Class) -> Option<u8> {
    match c {
        Class::Expired => Some(0),
        Class::Orphaned => Some(1),
        Class::Redundant => Some(2),
        // A corrupted copy frees its bytes through repair, not reclaim.
        Class::Corrupted => None,
    }
}

/// Indices into `candidates` (class, bytes) to remove, in reclaim order
/// (class rank, then largest first: fewest removals), stopping as soon as
/// `budget` bytes are covered. All reclaimable ones when they do not cover it.
pub fn pick(candidates: &[(Class, u64)], budget: u64) -> Vec<usize> {
    let mut order: Vec<(u8, std::cmp::Reverse<u64>, usize)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, (c, b))| rank(*c).map(|r| (r, std::cmp::Reverse(*b), i)))
        .collect();
    order.sort_unstable();
    let mut freed = 0u64;
    let mut out = Vec::new();
    for (_, std::cmp::Reverse(b), i) in order {
        if freed >= budget {
            break;
        }
        freed = freed.saturating_add(b);
        out.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn need_starts_at_the_threshold_and_aims_at_the_target() {
        let f = |used, capacity| Fill {
            used,
            capacity,
            ..Default::default()
        };
        assert_eq!(need(&f(95, 100), THRESHOLD, TARGET), None);
        assert_eq!(need(&f(96, 100), THRESHOLD, TARGET), Some(6));
        assert_eq!(need(&f(0, 0), THRESHOLD, TARGET), None);
        // The disk is the fuller: its excess counts.
        let disk = Fill {
            used: 10,
            capacity: 100,
            disk_used: 970,
            disk_total: 1000,
        };
        assert_eq!(need(&disk, THRESHOLD, TARGET), Some(70));
        assert!((disk.ratio() - 0.97).abs() < 1e-9);
    }

    #[test]
    fn expired_go_first_then_orphaned_then_redundant() {
        let c = [
            (Class::Redundant, 50),
            (Class::Orphaned, 10),
            (Class::Expired, 5),
            (Class::Corrupted, 100),
            (Class::Expired, 7),
        ];
        assert_eq!(pick(&c, 12), vec![4, 2]);
        assert_eq!(pick(&c, 13), vec![4, 2, 1]);
        assert_eq!(pick(&c, 1000), vec![4, 2, 1, 0]);
        assert!(pick(&c, 0).is_empty());
    }

    fn class() -> impl Strategy<Value = Class> {
        prop::sample::select(Class::ALL.to_vec())
    }

    proptest! {
        /// What is picked covers the budget when anything can; dropping the
        /// last pick would not (no more removed than needed); never a
        /// corrupted copy; and a class is touched only when every copy of
        /// the classes before it is picked.
        #[test]
        fn picks_are_enough_minimal_and_in_class_order(
            cands in prop::collection::vec((class(), 1u64..1000), 0..40),
            budget in 0u64..20_000,
        ) {
            let p = pick(&cands, budget);
            let sum: u64 = p.iter().map(|&i| cands[i].1).sum();
            let all: u64 = cands.iter().filter(|(c, _)| rank(*c).is_some()).map(|(_, b)| b).sum();
            prop_assert!(sum >= budget.min(all));
            if let Some(&last) = p.last() {
                prop_assert!(sum - cands[last].1 < budget);
            }
            prop_assert!(p.iter().all(|&i| cands[i].0 != Class::Corrupted));
            let worst = p.iter().filter_map(|&i| rank(cands[i].0)).max();
            if let Some(w) = worst {
                for (i, (c, _)) in cands.iter().enumerate() {
                    if rank(*c).is_some_and(|r| r < w) {
                        prop_assert!(p.contains(&i), "{:?} skipped before rank {}", c, w);
                    }
                }
            }
        }
    }
}
