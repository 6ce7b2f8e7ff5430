//! Responsible sets kept per shard between membership changes.
//!
//! The 10,000-node year asks for a shard's ranked set about 27 times a month
//! (every outage re-checks the silent node's holdings) while the view changes
//! for it about once: most answers were the same search again. A kept set
//! holds while no peer with an entry within its horizon changes and the view
//! spans as many zones (`PlacementIndex::ranked`), so a change to node `n`
//! forgets only the sets its virtual keys come within reach of.

use super::Sim;
use shardnet_protocol::repair;

/// One shard's kept set.
#[derive(Clone, Debug)]
struct Kept {
    set: Vec<u32>,
    horizon: u128,
}

#[derive(Debug, Default)]
pub(super) struct Ranks {
    /// Per shard index.
    kept: Vec<Option<Kept>>,
    /// The zone count the kept sets were proven under.
    zones: usize,
    /// The largest horizon kept since the last reset: how far from a
    /// changed node's keys a kept set may be.
    widest: u128,
}

impl Ranks {
    fn forget_all(&mut self) {
        self.kept.iter_mut().for_each(|k| *k = None);
        self.widest = 0;
    }
}

impl Sim<'_> {
    /// Shard `s`'s responsible peers in order, `pieces + SPILL` of them, as
    /// the repair scan ranks them.
    pub(super) fn ranked(&mut self, s: u32) -> Vec<u32> {
        if let Some(Some(k)) = self.ranks.kept.get(s as usize) {
            return k.set.clone();
        }
        let (id, size, copies) = {
            let sh = &self.shards[s as usize];
            (sh.id, sh.size, sh.scheme.pieces() + repair::SPILL)
        };
        self.ensure_index();
        let Some(index) = self.index.as_ref() else {
            return Vec::new();
        };
        let r = index.ranked(&id, size, copies);
        if let Some(horizon) = r.horizon {
            if self.ranks.kept.len() < self.shards.len() {
                self.ranks.kept.resize(self.shards.len(), None);
            }
            if self.ranks.zones != index.zone_count() {
                self.ranks.forget_all();
                self.ranks.zones = index.zone_count();
            }
            self.ranks.widest = self.ranks.widest.max(horizon);
            self.ranks.kept[s as usize] = Some(Kept {
                set: r.set.clone(),
                horizon,
            });
        }
        r.set
    }

    /// Node `n`'s entry in the index changed: the kept sets it may touch go.
    pub(super) fn forget_near(&mut self, n: u32) {
        let Some(index) = self.index.as_ref() else {
            return;
        };
        if self.ranks.zones != index.zone_count() {
            self.ranks.forget_all();
            self.ranks.zones = index.zone_count();
            return;
        }
        if self.ranks.widest == 0 {
            return;
        }
        let node = &self.nodes[n as usize];
        let w = self.candidate(n).weight;
        // reach(d, w) <= widest  implies  d < (widest + 1) * w / 2^64.
        let far = (self.ranks.widest + 1)
            .checked_mul(u128::from(w.max(1)))
            .map_or(u64::MAX, |x| u64::try_from(x >> 64).unwrap_or(u64::MAX));
        let span = if far == 0 {
            0
        } else {
            u64::MAX >> far.leading_zeros()
        };
        for &k in node.vkeys.as_slice() {
            let r = self.id_range(k & !span, k | span);
            for (&s, &p) in self.by_id[r.clone()].iter().zip(&self.by_id_prefix[r]) {
                let slot = &mut self.ranks.kept[s as usize];
                if slot
                    .as_ref()
                    .is_some_and(|kept| within(k ^ p, w, kept.horizon))
                {
                    *slot = None;
                }
            }
        }
    }
}

/// `vkeys::reach(distance, weight) <= horizon` without a 128-bit division (a fifth
/// of the eager policy's year went to that division): the quotient
/// `floor(a / w)` is at most `h` exactly when `a < (h + 1) * w`.
fn within(distance: u64, weight: u64, horizon: u128) -> bool {
    let w = u128::from(weight.max(1));
    horizon
        .checked_add(1)
        .and_then(|h| h.checked_mul(w))
        .is_none_or(|limit| u128::from(distance) << 64 < limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shardnet_protocol::placement::vkeys::reach;

    proptest! {
        #[test]
        fn within_is_reach_at_most_horizon(d: u64, w: u64, h: u128, small in 0u128..(1 << 70)) {
            prop_assert_eq!(within(d, w, h), reach(d, w) <= h);
            prop_assert_eq!(within(d, w, small), reach(d, w) <= small);
            let exact = reach(d, w);
            prop_assert!(within(d, w, exact));
            if exact > 0 {
                prop_assert!(!within(d, w, exact - 1));
            }
        }
    }
}
