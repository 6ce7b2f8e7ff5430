//! When a quarantined copy may be purged, must come back, or waits.
//!
//! Every path that drops a local copy (redundant after a handoff, capacity
//! shedding, drain) moves it to quarantine: its bytes stay, it is neither
//! served nor counted. [`decide`] then looks at the copies proven elsewhere,
//! each described by a [`ProvenCopy`], and the rule is:
//!
//! - **Purge** only when at least `wanted` copies are on responsible peers
//!   that are vetted and not isolated, proven in this very round, and whose
//!   unbroken run of passed proofs started no later than the quarantine (so
//!   they kept proving for the whole grace period), and the grace period is
//!   over.
//! - **Restore** (back to healthy, used for repair first) when fewer than
//!   `wanted` copies are proven now on non-isolated peers, vetted or not: the
//!   shard is below target and this copy is the quickest repair.
//! - **Keep** waiting otherwise.
//!
//! Pure and property-tested; the node's quarantine pass and the simulator
//! both use it.

/// What this node knows of one copy held elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProvenCopy {
    /// The holder is in the shard's responsible set.
    pub responsible: bool,
    /// The holder passed enough audits to be trusted with removals.
    pub vetted: bool,
    pub isolated: bool,
    /// The holder's last proof of the copy passed, within the audit interval.
    pub fresh: bool,
    /// The holder proved the copy in this round (implies `fresh`).
    pub proven_now: bool,
    /// Unix seconds since when every proof of this copy passed (the start of
    /// its unbroken run); `None` if it never passed.
    pub passing_since: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Purge,
    Restore,
    Keep,
}

/// Grace period default: a day of proofs before the bytes go.
pub const DEFAULT_GRACE_SECS: u64 = 24 * 3600;

/// Copies that justify a purge.
pub fn trusted_copies(copies: &[ProvenCopy], quarantined_at: u64) -> usize {
    copies
        .iter()
        .filter(|c| {
            c.responsible
                && c.vetted
                && !c.isolated
                && c.proven_now
                && c.passing_since.is_some_and(|s| s <= quarantined_at)
        })
        .count()
}

/// Decides for one quarantined copy.
pub fn decide(
    copies: &[ProvenCopy],
    wanted: usize,
    quarantined_at: u64,
    now: u64,
    grace_secs: u64,
) -> Outcome {
    let wanted = wanted.max(1);
    let proven = copies
        .iter()
        .filter(|c| (c.fresh || c.proven_now) && !c.isolated)
        .count();
    if proven < wanted {
        return Outcome::Restore;
    }
    if now >= quarantined_at.saturating_add(grace_secs)
        && trusted_copies(copies, quarantined_at) >= wanted
    {
        Outcome::Purge
    } else {
        Outcome::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn copy_strategy() -> impl Strategy<Value = ProvenCopy> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0u64..200),
        )
            .prop_map(
                |(responsible, vetted, isolated, fresh, proven_now, passing_since)| ProvenCopy {
                    responsible,
                    vetted,
                    isolated,
                    fresh,
                    proven_now,
                    passing_since,
                },
            )
    }

    proptest! {
        #[test]
        fn never_purges_without_wanted_trusted_copies_over_the_grace(
            copies in proptest::collection::vec(copy_strategy(), 0..10),
            wanted in 0usize..8, q in 0u64..200, now in 0u64..400, grace in 0u64..200,
        ) {
            let d = decide(&copies, wanted, q, now, grace);
            if d == Outcome::Purge {
                prop_assert!(now >= q + grace);
                let good = copies.iter().filter(|c| c.responsible && c.vetted && !c.isolated
                    && c.proven_now && c.passing_since.is_some_and(|s| s <= q)).count();
                prop_assert!(good >= wanted.max(1), "purged with {} trusted copies, {} wanted", good, wanted);
            }
            // Below target on proven copies: always back to healthy.
            let proven = copies.iter().filter(|c| (c.fresh || c.proven_now) && !c.isolated).count();
            if proven < wanted.max(1) {
                prop_assert_eq!(d, Outcome::Restore);
            }
        }
    }

    #[test]
    fn unvetted_or_late_proofs_keep_the_copy() {
        let good = ProvenCopy {
            responsible: true,
            vetted: true,
            isolated: false,
            fresh: true,
            proven_now: true,
            passing_since: Some(10),
        };
        assert_eq!(decide(&[good; 3], 3, 20, 120, 100), Outcome::Purge);
        assert_eq!(
            decide(&[good; 3], 3, 20, 119, 100),
            Outcome::Keep,
            "grace not over"
        );
        let fresh = ProvenCopy {
            vetted: false,
            ..good
        };
        assert_eq!(decide(&[good, good, fresh], 3, 20, 500, 100), Outcome::Keep);
        let restarted = ProvenCopy {
            passing_since: Some(30),
            ..good
        };
        assert_eq!(
            decide(&[good, good, restarted], 3, 20, 500, 100),
            Outcome::Keep
        );
        let stale = ProvenCopy {
            proven_now: false,
            ..good
        };
        assert_eq!(
            decide(&[good, good, stale], 3, 20, 500, 100),
            Outcome::Keep,
            "not proven this round"
        );
        let silent = ProvenCopy {
            proven_now: false,
            fresh: false,
            ..good
        };
        assert_eq!(
            decide(&[good, good, silent], 3, 20, 500, 100),
            Outcome::Restore
        );
    }
}
