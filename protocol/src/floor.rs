//! The trusted floor: at backup time, every shard keeps at least one copy on
//! a holder this node trusts: itself, or a vetted peer in good standing.
//!
//! Why: a copy counts once its holder proved receipt, but a liar can keep the
//! bytes just long enough for that proof. Where the responsible set happens to
//! be all new peers (fresh zones attract placement), every copy of a shard can
//! sit with liars, and the shard is lost before the first audit. With one copy
//! on a trusted holder, audits find the liars out and repair rebuilds the
//! shard from that copy. In a swarm where nobody is vetted yet there is no
//! such holder to use, and the floor asks for nothing (every copy counts as
//! before).

/// The extra holder for a shard placed on `confirmed`, taken from `order`
/// (placement order): `None` when a confirmed holder `satisfies` the floor,
/// else the first peer in `order` that is not confirmed and may `take` the
/// trusted copy (`None` when there is none).
pub fn extra_holder<P: PartialEq + Clone>(
    order: &[P],
    confirmed: &[P],
    satisfies: impl Fn(&P) -> bool,
    take: impl Fn(&P) -> bool,
) -> Option<P> {
    if confirmed.iter().any(&satisfies) {
        return None;
    }
    order
        .iter()
        .find(|p| !confirmed.contains(p) && take(p))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_extra_holder_is_needed_trusted_and_new(
            n in 1u8..16,
            confirmed_mask in any::<u16>(),
            trusted_mask in any::<u16>(),
        ) {
            let order: Vec<u8> = (0..n).collect();
            let confirmed: Vec<u8> = order.iter().copied().filter(|p| confirmed_mask >> p & 1 == 1).collect();
            let trusted = |p: &u8| trusted_mask >> p & 1 == 1;
            let got = extra_holder(&order, &confirmed, trusted, trusted);
            let satisfied = confirmed.iter().any(trusted);
            match got {
                Some(p) => {
                    prop_assert!(!satisfied);
                    prop_assert!(trusted(&p));
                    prop_assert!(!confirmed.contains(&p));
                    // The first such peer in placement order.
                    prop_assert!(order.iter().take_while(|q| **q != p).all(|q| confirmed.contains(q) || !trusted(q)));
                }
                None => prop_assert!(satisfied || order.iter().all(|q| confirmed.contains(q) || !trusted(q))),
            }
        }
    }

    #[test]
    fn a_young_swarm_asks_for_nothing() {
        let order = [1, 2, 3, 4, 5];
        assert_eq!(extra_holder(&order, &[1, 2, 3], |_| false, |_| false), None);
        assert_eq!(
            extra_holder(&order, &[1, 2, 3], |p| *p == 2, |_| true),
            None
        );
        assert_eq!(
            extra_holder(&order, &[1, 2, 3], |p| *p == 5, |p| *p == 5),
            Some(5)
        );
    }
}
