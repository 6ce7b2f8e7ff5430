//! Retention: whether a stored shard is still wanted, from its leases alone.
//!
//! Repair restores a shard's copies while any owner's lease on it is live
//! (no holder accepts a copy under an expired lease). Past the latest expiry
//! a shard's copies stay where they are for a grace period (owners renew
//! late, clocks differ): nothing repairs, moves or removes them. After that
//! it is *expired* and prune may remove it; a shard with no lease at all is
//! *orphaned*, prunable too. Pure, so that the node's
//! repair scan, the prune planner and the simulator decide alike.

use crate::lease::{copies_wanted, latest_expiry, Lease};
use crate::tier::DAY_SECS;
use serde::{Deserialize, Serialize};

/// How long past its latest lease a shard's copies are left alone.
pub const GRACE_SECS: u64 = 7 * DAY_SECS;

/// Where a shard stands against its leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseState {
    /// Some lease runs past now.
    Live,
    /// Every lease has run out, less than the grace period ago.
    Grace,
    /// Every lease ran out more than the grace period ago.
    Expired,
    /// No lease at all.
    Orphaned,
}

impl LeaseState {
    /// Whether prune may remove the shard's copies.
    pub fn prunable(self) -> bool {
        matches!(self, LeaseState::Expired | LeaseState::Orphaned)
    }

    pub fn name(self) -> &'static str {
        match self {
            LeaseState::Live => "live",
            LeaseState::Grace => "grace",
            LeaseState::Expired => "expired",
            LeaseState::Orphaned => "orphaned",
        }
    }
}

/// The state of a shard with `leases` at `now` (unix seconds).
pub fn lease_state(leases: &[Lease], now: u64, grace: u64) -> LeaseState {
    match latest_expiry(leases) {
        None => LeaseState::Orphaned,
        Some(e) if now < e => LeaseState::Live,
        Some(e) if now < e.saturating_add(grace) => LeaseState::Grace,
        Some(_) => LeaseState::Expired,
    }
}

/// Copies repair works towards: the live leases' count, `None` once every
/// lease has run out (nothing restores or moves its copies any more).
pub fn copies_to_keep(leases: &[Lease], now: u64) -> Option<usize> {
    (lease_state(leases, now, 0) == LeaseState::Live).then(|| copies_wanted(leases, now))
}

/// Whether the latest lease ends within `warn` seconds from now (and has not
/// ended yet): the owner should extend it or let it go on purpose.
pub fn expires_within(leases: &[Lease], now: u64, warn: u64) -> bool {
    latest_expiry(leases).is_some_and(|e| e > now && e - now <= warn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::OwnerId;
    use crate::lease::Sig;
    use proptest::prelude::*;

    fn lease(expires_at: u64, copies: u8) -> Lease {
        Lease {
            owner: OwnerId([1; 32]),
            expires_at,
            copies,
            sig: Sig([0; 64]),
        }
    }

    fn leases() -> impl Strategy<Value = Vec<Lease>> {
        proptest::collection::vec((0u64..1_000, 1u8..=7), 0..6)
            .prop_map(|v| v.into_iter().map(|(e, c)| lease(e, c)).collect())
    }

    proptest! {
        /// For fixed leases, time only moves a shard forward: live, then
        /// grace, then expired; never back, and an orphan stays one.
        #[test]
        fn state_only_moves_forward_in_time(ls in leases(), a in 0u64..2_000, b in 0u64..2_000, grace in 0u64..500) {
            let (t0, t1) = (a.min(b), a.max(b));
            let (s0, s1) = (lease_state(&ls, t0, grace), lease_state(&ls, t1, grace));
            prop_assert!(s0 <= s1, "{s0:?} at {t0}, {s1:?} at {t1}");
            prop_assert_eq!(s0 == LeaseState::Orphaned, ls.is_empty());
        }

        /// Repair works on a shard exactly while some lease runs past now,
        /// with at least one copy wanted; prune may take it only when no
        /// lease plus the grace period does.
        #[test]
        fn repaired_while_live_prunable_after_grace(ls in leases(), now in 0u64..2_000, grace in 0u64..500) {
            let live = ls.iter().any(|l| l.expires_at > now);
            match copies_to_keep(&ls, now) {
                Some(n) => prop_assert!(live && (1..=7).contains(&n)),
                None => prop_assert!(!live),
            }
            let kept = ls.iter().any(|l| l.expires_at.saturating_add(grace) > now);
            prop_assert_eq!(lease_state(&ls, now, grace).prunable(), !kept);
        }

        /// Adding a lease never makes a shard less wanted.
        #[test]
        fn another_lease_never_ends_retention(ls in leases(), e in 0u64..1_000, now in 0u64..2_000, grace in 0u64..500) {
            let before = lease_state(&ls, now, grace);
            let mut more = ls.clone();
            more.push(lease(e, 2));
            let after = lease_state(&more, now, grace);
            prop_assert!(after <= before || before == LeaseState::Orphaned);
        }
    }

    #[test]
    fn bronze_expires_after_grace_while_silver_stays() {
        let day = DAY_SECS;
        let bronze = [lease(90 * day, 2)];
        let silver = [lease(365 * day, 3)];
        let at = |d: u64| d * day;
        assert_eq!(lease_state(&bronze, at(89), GRACE_SECS), LeaseState::Live);
        assert_eq!(copies_to_keep(&bronze, at(89)), Some(2));
        assert_eq!(lease_state(&bronze, at(95), GRACE_SECS), LeaseState::Grace);
        assert_eq!(copies_to_keep(&bronze, at(95)), None);
        assert!(!LeaseState::Grace.prunable());
        assert_eq!(
            lease_state(&bronze, at(100), GRACE_SECS),
            LeaseState::Expired
        );
        assert!(LeaseState::Expired.prunable());
        assert_eq!(copies_to_keep(&silver, at(100)), Some(3));
        assert_eq!(lease_state(&[], at(1), GRACE_SECS), LeaseState::Orphaned);
        assert!(expires_within(&bronze, at(70), 30 * day));
        assert!(!expires_within(&bronze, at(50), 30 * day));
        assert!(!expires_within(&bronze, at(91), 30 * day));
    }
}
