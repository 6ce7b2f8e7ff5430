//! When the owner rebuilds a stripe's lost pieces, from the pieces proven
//! just now (`backup repair`, and the daemon's periodic pass over the
//! owner's backups).
//!
//! Lazy by default, as repair of copies is: pieces are rebuilt once fewer
//! than the floor `k + ceil(m/2)` are proven ([`Scheme::floor`]), and then
//! every missing piece at once, from one gather of `k`: a piece whose
//! holder is only rebooting is not rebuilt, and one gather pays for all
//! the pieces it restores. An operator's `backup repair` is eager.
//!
//! While the owner is offline, the holders of a stripe's pieces rebuild
//! under the same rule, from the owner's signed stripe record. One holder
//! acts per stripe: the holder of the lowest-indexed piece proven now
//! ([`holder_duty`]); the others defer to it, and take its place when it
//! stops proving its piece. So a holder proves the lower indices first and
//! stops at the first one proven: the lowest holder proves every sibling,
//! the next one a single piece, and a pass costs about two provings per
//! piece instead of one per pair of pieces.

use super::Scheme;

/// What to do with one stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebuild {
    /// Every piece is proven.
    Whole,
    /// Pieces are missing, but at least the floor is proven: wait.
    Waiting { missing: Vec<usize> },
    /// Rebuild these indices from `k` proven pieces.
    Now { missing: Vec<usize> },
    /// Fewer than `k` proven: nothing can rebuild it now.
    Lost { proven: usize },
}

/// The plan for a stripe of `scheme` whose piece `i` is proven when
/// `proven[i]`; `eager` rebuilds anything missing.
pub fn plan(scheme: Scheme, proven: &[bool], eager: bool) -> Rebuild {
    let have = proven.iter().filter(|p| **p).count();
    let missing: Vec<usize> = (0..scheme.pieces())
        .filter(|i| !proven.get(*i).copied().unwrap_or(false))
        .collect();
    if missing.is_empty() {
        Rebuild::Whole
    } else if have < scheme.needed() {
        Rebuild::Lost { proven: have }
    } else if eager || have < scheme.floor() {
        Rebuild::Now { missing }
    } else {
        Rebuild::Waiting { missing }
    }
}

/// What the holder of piece `mine` does about its stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Duty {
    /// Piece `to` is proven and lower: its holder decides.
    Defer { to: usize },
    /// This holder decides: the stripe's [`plan`] (lazy).
    Decide(Rebuild),
}

/// The order in which the holder of piece `mine` of an `n`-piece stripe
/// proves its siblings: the lower indices first, lowest first (it stops at
/// the first one proven), then the higher ones.
pub fn holder_order(mine: usize, n: usize) -> Vec<usize> {
    (0..n).filter(|i| *i != mine).collect()
}

/// The duty of the holder of piece `mine` (proven: it holds it) given the
/// siblings proven so far (`proven[i]`; a piece not asked yet is false, so
/// ask by [`holder_order`] first). The lowest proven piece's holder
/// decides; the pieces above it need not have been asked for a deferral.
pub fn holder_duty(scheme: Scheme, mine: usize, proven: &[bool]) -> Duty {
    if let Some(to) = (0..mine).find(|i| proven.get(*i).copied().unwrap_or(false)) {
        return Duty::Defer { to };
    }
    let flags: Vec<bool> = (0..scheme.pieces())
        .map(|i| i == mine || proven.get(i).copied().unwrap_or(false))
        .collect();
    Duty::Decide(plan(scheme, &flags, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn waits_above_the_floor_and_rebuilds_below_it() {
        let s = Scheme::Rs { data: 4, parity: 4 };
        // Floor 6 of 8.
        let mut p = vec![true; 8];
        assert_eq!(plan(s, &p, false), Rebuild::Whole);
        p[1] = false;
        p[6] = false;
        assert_eq!(
            plan(s, &p, false),
            Rebuild::Waiting {
                missing: vec![1, 6]
            }
        );
        assert_eq!(
            plan(s, &p, true),
            Rebuild::Now {
                missing: vec![1, 6]
            }
        );
        p[7] = false;
        assert_eq!(
            plan(s, &p, false),
            Rebuild::Now {
                missing: vec![1, 6, 7]
            }
        );
        p[0] = false;
        p[2] = false;
        assert_eq!(plan(s, &p, false), Rebuild::Lost { proven: 3 });
    }

    #[test]
    fn the_lowest_proven_holder_decides() {
        let s = Scheme::Rs { data: 2, parity: 2 };
        // Floor 3 of 4: pieces 0 and 2 lost, 1 and 3 held.
        let p = [false, true, false, true];
        assert_eq!(holder_duty(s, 3, &p), Duty::Defer { to: 1 });
        assert_eq!(
            holder_duty(s, 1, &p),
            Duty::Decide(Rebuild::Now {
                missing: vec![0, 2]
            })
        );
        // Piece 1's holder is silent too: 3 decides, and cannot rebuild.
        assert_eq!(
            holder_duty(s, 3, &[false, false, false, true]),
            Duty::Decide(Rebuild::Lost { proven: 1 })
        );
        assert_eq!(holder_order(2, 4), vec![0, 1, 3]);
    }

    proptest! {
        /// Among the holders that prove their pieces, exactly one decides
        /// (the lowest), whatever the others see; and its decision is the
        /// stripe's plan.
        #[test]
        fn exactly_one_holder_decides(k in 1u8..6, m in 1u8..6, bits in any::<u32>()) {
            let s = Scheme::Rs { data: k, parity: m };
            let n = s.pieces();
            let proven: Vec<bool> = (0..n).map(|i| bits >> i & 1 == 1).collect();
            let deciders: Vec<usize> = (0..n)
                .filter(|i| proven[*i])
                .filter(|i| matches!(holder_duty(s, *i, &proven), Duty::Decide(_)))
                .collect();
            let lowest = proven.iter().position(|p| *p);
            prop_assert_eq!(deciders.first().copied(), lowest);
            prop_assert!(deciders.len() <= 1);
            if let Some(i) = lowest {
                prop_assert_eq!(holder_duty(s, i, &proven), Duty::Decide(plan(s, &proven, false)));
            }
        }

        #[test]
        fn never_rebuilds_from_fewer_than_k_and_names_exactly_the_missing(
            k in 1u8..6, m in 1u8..6, bits in any::<u32>(), eager in any::<bool>()
        ) {
            let s = Scheme::Rs { data: k, parity: m };
            let n = s.pieces();
            let proven: Vec<bool> = (0..n).map(|i| bits >> i & 1 == 1).collect();
            let have = proven.iter().filter(|p| **p).count();
            match plan(s, &proven, eager) {
                Rebuild::Whole => prop_assert_eq!(have, n),
                Rebuild::Lost { proven } => prop_assert!(proven < k as usize),
                Rebuild::Now { missing } | Rebuild::Waiting { missing } => {
                    prop_assert!(have >= k as usize);
                    prop_assert_eq!(missing.len(), n - have);
                    prop_assert!(missing.iter().all(|i| !proven[*i]));
                }
            }
        }
    }
}
