//! When the owner rebuilds a stripe's lost pieces, from the pieces proven
//! just now (`backup repair`, and the daemon's periodic pass over the
//! owner's backups).
//!
//! Lazy by default, as repair of copies is: pieces are rebuilt once fewer
//! than the floor `k + ceil(m/2)` are proven ([`Scheme::floor`]), and then
//! every missing piece at once, from one gather of `k`: a piece whose
//! holder is only rebooting is not rebuilt, and one gather pays for all
//! the pieces it restores. An operator's `backup repair` is eager.

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

    proptest! {
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
