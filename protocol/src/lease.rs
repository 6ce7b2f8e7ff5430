//! Leases: a stored shard stays as long as some owner's lease on it is live.
//! Pruning of expired and orphaned shards is decided from leases alone.

use crate::keys::OwnerId;
use serde::{Deserialize, Serialize};

/// An owner's claim on a shard until `expires_at` (unix seconds), and how many
/// copies the owner's tier wants kept (repair restores that count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: OwnerId,
    pub expires_at: u64,
    pub copies: u8,
}

/// Adds `new` to `leases`: one lease per owner, keeping the later expiry and the
/// larger copy count (a lease is only ever extended by adding; shortening needs
/// the owner's signed request, later). Returns whether anything changed.
pub fn merge(leases: &mut Vec<Lease>, new: Lease) -> bool {
    match leases.iter_mut().find(|l| l.owner == new.owner) {
        Some(l) if l.expires_at >= new.expires_at && l.copies >= new.copies => false,
        Some(l) => {
            l.expires_at = l.expires_at.max(new.expires_at);
            l.copies = l.copies.max(new.copies);
            true
        }
        None => {
            leases.push(new);
            true
        }
    }
}

/// Copies wanted for a shard: the most any unexpired lease asks for (at least 1
/// while any lease exists, so a shard is never dropped by repair arithmetic).
pub fn copies_wanted(leases: &[Lease], now: u64) -> usize {
    let live = leases
        .iter()
        .filter(|l| l.expires_at > now)
        .map(|l| l.copies as usize)
        .max();
    live.or_else(|| leases.iter().map(|l| l.copies as usize).max())
        .unwrap_or(1)
        .max(1)
}

/// The latest expiry among `leases`, or `None` when there are none (an orphan).
pub fn latest_expiry(leases: &[Lease]) -> Option<u64> {
    leases.iter().map(|l| l.expires_at).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn merge_keeps_one_per_owner_and_max(ops in proptest::collection::vec((0u8..4, 0u64..1000), 0..40)) {
            let mut leases = Vec::new();
            for (o, e) in &ops {
                merge(&mut leases, Lease { owner: OwnerId([*o; 32]), expires_at: *e, copies: 2 });
            }
            for o in 0u8..4 {
                let want = ops.iter().filter(|(x, _)| *x == o).map(|(_, e)| *e).max();
                let got: Vec<_> = leases.iter().filter(|l| l.owner == OwnerId([o; 32])).collect();
                prop_assert!(got.len() <= 1);
                prop_assert_eq!(got.first().map(|l| l.expires_at), want);
            }
        }
    }
}
