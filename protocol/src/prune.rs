//! Prune: which local copies may leave this node, and why.
//!
//! A copy is a prune candidate in one of four classes:
//! - **expired**: every lease ran out more than the grace period ago
//!   ([`crate::retention`]); its owners signed that end into the leases;
//! - **orphaned**: no lease at all;
//! - **corrupted**: the local bytes are bad, and a healthy copy is proven
//!   elsewhere by this node's own check (none anywhere: the shard is
//!   reported *lost*, never deleted);
//! - **redundant**: live, outside the shard's responsible set, with at least
//!   `max(tier copies, min_copies)` healthy copies proven elsewhere, so
//!   removing this one never takes the shard below that.
//!
//! Nothing here deletes: a pruned copy goes to quarantine (bytes kept, not
//! served), can be rolled back, and is purged only later. Pure and
//! property-tested; the node's planner, its run-time re-check and the
//! simulator share [`classify`].

use crate::retention::LeaseState;
use serde::{Deserialize, Serialize};

/// Fewest proven copies a live shard keeps, whatever its tier asks (the
/// operational runbook's floor).
pub const MIN_COPIES: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Expired,
    Orphaned,
    Corrupted,
    Redundant,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Expired,
        Class::Orphaned,
        Class::Corrupted,
        Class::Redundant,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Expired => "expired",
            Class::Orphaned => "orphaned",
            Class::Corrupted => "corrupted",
            Class::Redundant => "redundant",
        }
    }
}

impl std::str::FromStr for Class {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Class::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown prune class {s:?}; one of: expired, orphaned, corrupted, redundant"
                )
            })
    }
}

/// What this node knows of one of its copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalCopy {
    pub lease: LeaseState,
    /// The local bytes do not match the shard's id.
    pub corrupted: bool,
    /// This node is in the shard's responsible set.
    pub responsible: bool,
    /// Healthy copies on other peers, each proven by this node's own
    /// challenge (never a peer's word).
    pub proven_elsewhere: usize,
    /// Copies the shard's live leases ask for.
    pub wanted: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Prune(Class),
    /// Bad here and no healthy copy proven anywhere: report, never delete.
    Lost,
    Keep,
}

/// The copy's verdict under the rules in the module doc.
pub fn classify(c: &LocalCopy, min_copies: usize) -> Verdict {
    match c.lease {
        LeaseState::Expired => return Verdict::Prune(Class::Expired),
        LeaseState::Orphaned => return Verdict::Prune(Class::Orphaned),
        LeaseState::Live | LeaseState::Grace => {}
    }
    if c.corrupted {
        return if c.proven_elsewhere >= 1 {
            Verdict::Prune(Class::Corrupted)
        } else {
            Verdict::Lost
        };
    }
    let floor = c.wanted.max(min_copies);
    if !c.responsible && c.lease == LeaseState::Live && c.proven_elsewhere >= floor {
        Verdict::Prune(Class::Redundant)
    } else {
        Verdict::Keep
    }
}

/// A one-line reason for a plan or a refusal.
pub fn reason(c: &LocalCopy, v: Verdict, min_copies: usize) -> String {
    match v {
        Verdict::Prune(Class::Expired) => {
            "every lease ran out more than the grace period ago".into()
        }
        Verdict::Prune(Class::Orphaned) => "no lease".into(),
        Verdict::Prune(Class::Corrupted) => format!(
            "local bytes are bad; {} healthy copies proven elsewhere",
            c.proven_elsewhere
        ),
        Verdict::Prune(Class::Redundant) => format!(
            "outside the responsible set; {} copies proven elsewhere (at least {} kept)",
            c.proven_elsewhere,
            c.wanted.max(min_copies)
        ),
        Verdict::Lost => "local bytes are bad and no healthy copy is proven anywhere: lost".into(),
        Verdict::Keep => "still needed here".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn states() -> impl Strategy<Value = LeaseState> {
        prop_oneof![
            Just(LeaseState::Live),
            Just(LeaseState::Grace),
            Just(LeaseState::Expired),
            Just(LeaseState::Orphaned),
        ]
    }

    fn copies() -> impl Strategy<Value = LocalCopy> {
        (
            states(),
            any::<bool>(),
            any::<bool>(),
            0usize..10,
            1usize..=7,
        )
            .prop_map(
                |(lease, corrupted, responsible, proven_elsewhere, wanted)| LocalCopy {
                    lease,
                    corrupted,
                    responsible,
                    proven_elsewhere,
                    wanted,
                },
            )
    }

    proptest! {
        /// A copy of a shard that is still wanted leaves only with enough
        /// proven copies elsewhere: at least max(tier, min_copies) when it
        /// is healthy, at least one when it is bad; never the last copy.
        #[test]
        fn a_wanted_shard_never_loses_a_copy_it_needs(c in copies(), min in 1usize..5) {
            let v = classify(&c, min);
            if matches!(c.lease, LeaseState::Live | LeaseState::Grace) {
                match v {
                    Verdict::Prune(Class::Redundant) => {
                        prop_assert!(!c.corrupted && !c.responsible);
                        prop_assert!(c.proven_elsewhere >= c.wanted.max(min));
                        prop_assert_eq!(c.lease, LeaseState::Live);
                    }
                    Verdict::Prune(Class::Corrupted) => {
                        prop_assert!(c.corrupted && c.proven_elsewhere >= 1);
                    }
                    Verdict::Prune(other) => prop_assert!(false, "{other:?} for a wanted shard"),
                    Verdict::Lost => prop_assert!(c.corrupted && c.proven_elsewhere == 0),
                    Verdict::Keep => {}
                }
                prop_assert!(v == Verdict::Keep || v == Verdict::Lost || c.proven_elsewhere >= 1);
            }
        }

        /// Expired and orphaned shards are always prunable, whatever else
        /// is true; a responsible healthy copy of a live shard never is.
        #[test]
        fn classes_follow_the_leases(c in copies(), min in 1usize..5) {
            let v = classify(&c, min);
            match c.lease {
                LeaseState::Expired => prop_assert_eq!(v, Verdict::Prune(Class::Expired)),
                LeaseState::Orphaned => prop_assert_eq!(v, Verdict::Prune(Class::Orphaned)),
                _ if c.responsible && !c.corrupted => prop_assert_eq!(v, Verdict::Keep),
                _ => {}
            }
        }
    }

    #[test]
    fn the_runbook_floor_holds_even_for_bronze() {
        let c = LocalCopy {
            lease: LeaseState::Live,
            corrupted: false,
            responsible: false,
            proven_elsewhere: 2,
            wanted: 2,
        };
        assert_eq!(classify(&c, MIN_COPIES), Verdict::Keep);
        let c3 = LocalCopy {
            proven_elsewhere: 3,
            ..c
        };
        assert_eq!(classify(&c3, MIN_COPIES), Verdict::Prune(Class::Redundant));
        let bad = LocalCopy {
            corrupted: true,
            proven_elsewhere: 0,
            ..c
        };
        assert_eq!(classify(&bad, MIN_COPIES), Verdict::Lost);
        assert_eq!("orphaned".parse(), Ok(Class::Orphaned));
        assert!("old".parse::<Class>().is_err());
    }
}
