//! Patience with silent peers: how long a peer may be silent before its
//! copies stop counting and are re-made elsewhere. Pure, so the node's
//! membership and repair and the simulator's model decide alike.
//!
//! Volunteers' machines reboot, sleep and lose their links every day; most
//! come back with their data. Re-replicating every copy of every peer that
//! is silent for longer than one fixed `down_after`, and pruning the new
//! copies when it returns, made the model copy 4× the data per month. Three
//! rules replace that:
//!
//! - **Lazy repair per copy count** ([`floor`], [`keeps_place`]): a silent
//!   peer that held a shard keeps its place in the shard's responsible set
//!   (so nothing is copied in its stead) up to the ceiling (`patience_max`)
//!   while the shard keeps at least [`floor`]`(wanted)` copies proven on
//!   reachable peers, as Storj repairs only below a threshold. Below the
//!   floor it keeps its place for its own patience; with one copy or none
//!   left, for that patience but never more than [`LAST_COPY_BASES`] times
//!   the base `down_after` (bronze, at 2 copies, is there at every outage
//!   of a holder: waiting for the base only re-copied 13% of its holders'
//!   outages, a fifth of a year's repair traffic in the 10,000-node model).
//! - **Adaptive patience** ([`patience`]): a peer's own history of outages
//!   it came back from, as this node observed them (silence, never the
//!   peer's word), sets its patience: half again its longest recent outage,
//!   between the configured `down_after` and the ceiling. It is also when
//!   the peer counts as down for everything else (announcements, the
//!   view).
//! - **Partitions** ([`partitioned`]): when most of a zone goes silent at
//!   once, the zone is cut off, not dead: its peers' patience is the
//!   ceiling.
//!
//! Only the durations differ from the eager policy before: with patience
//! and ceiling both `down_after`, [`keeps_place`] is that policy.
//!
//! A returning peer's copies count again when proven; the copies made in
//! its absence are then outside the responsible set and pruned (through
//! quarantine), so the newer copies are the ones that go.

use std::time::Duration;

/// Outages remembered per peer (the most recent ones).
pub const RECENT_OUTAGES: usize = 8;
/// Outages a peer must have come back from before its history counts.
pub const MIN_OUTAGES: usize = 2;
/// Share of a zone's peers silent at once that makes it a partition.
pub const PARTITION_SHARE: f64 = 0.5;
/// With one copy left, a silent holder's place is kept at most this many
/// times `down_after` (within its own patience).
pub const LAST_COPY_BASES: u32 = 2;
/// Fewest peers a zone needs before its silence can be a partition (one or
/// two silent peers are ordinary outages).
pub const PARTITION_MIN_PEERS: usize = 3;

/// The outages a peer came back from, as this node saw them (bounded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outages {
    /// Seconds of silence of the most recent outages, oldest first.
    recent: Vec<u32>,
}

impl Outages {
    /// Records an outage of `silent` the peer came back from.
    pub fn record(&mut self, silent: Duration) {
        if self.recent.len() == RECENT_OUTAGES {
            self.recent.remove(0);
        }
        self.recent
            .push(u32::try_from(silent.as_secs()).unwrap_or(u32::MAX));
    }

    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    /// The longest remembered outage.
    pub fn longest(&self) -> Option<Duration> {
        self.recent
            .iter()
            .max()
            .map(|&s| Duration::from_secs(s.into()))
    }
}

/// How long this peer may be silent before it is down: `base` until it has
/// come back from [`MIN_OUTAGES`] outages, then one and a half times its
/// longest recent outage, never below `base` nor above `ceiling`.
pub fn patience(outages: &Outages, base: Duration, ceiling: Duration) -> Duration {
    let ceiling = ceiling.max(base);
    if outages.len() < MIN_OUTAGES {
        return base;
    }
    let longest = outages.longest().unwrap_or_default();
    longest.saturating_add(longest / 2).clamp(base, ceiling)
}

/// Whether `silent` of a zone's `peers` peers, all gone silent within one
/// detection window, mean the zone is cut off rather than failing.
pub fn partitioned(peers: usize, silent: usize) -> bool {
    peers >= PARTITION_MIN_PEERS && silent as f64 >= PARTITION_SHARE * peers as f64
}

/// Copies proven on reachable peers below which a shard that wants `wanted`
/// copies stops waiting for its silent holders past their own patience:
/// one copy of slack from three copies up (critical 6 of 7, gold 4 of 5,
/// silver 2 of 3), none below (bronze 2 of 2).
pub fn floor(wanted: usize) -> usize {
    if wanted <= 2 {
        wanted
    } else {
        wanted - 1
    }
}

/// How long a peer may stay silent and keep its place in a shard's
/// responsible set, nothing copied in its stead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The configured `down_after`: for a peer without history.
    pub base: Duration,
    /// This peer's patience ([`patience`]; the ceiling when partitioned).
    pub patience: Duration,
    /// `patience_max`: the longest anyone waits.
    pub ceiling: Duration,
}

impl Wait {
    /// The eager policy: every silent peer's place goes after `base`.
    pub fn eager(base: Duration) -> Wait {
        Wait {
            base,
            patience: base,
            ceiling: base,
        }
    }

    /// How long a silent peer keeps its place for a shard that wants
    /// `wanted` copies and has `live` proven on reachable peers; `held`:
    /// this node has its own evidence that the peer held the shard.
    pub fn limit(&self, held: bool, live: usize, wanted: usize) -> Duration {
        self.limit_at(held, live, 1, floor(wanted))
    }

    /// [`limit`](Self::limit) for any redundancy: `needed` pieces restore
    /// the shard (1 for copies) and below `floor` proven pieces repair stops
    /// waiting past each holder's own patience (`redundancy::Scheme`).
    pub fn limit_at(&self, held: bool, live: usize, needed: usize, floor: usize) -> Duration {
        // Never below base, never past the ceiling, whatever was configured.
        let ceiling = self.ceiling.max(self.base);
        let patience = self.patience.clamp(self.base, ceiling);
        if !held {
            self.base
        } else if live <= needed {
            patience.min(self.base.saturating_mul(LAST_COPY_BASES))
        } else if live < floor {
            patience
        } else {
            ceiling
        }
    }
}

/// Whether a peer silent for `silent` keeps its place (see [`Wait::limit`]).
pub fn keeps_place(silent: Duration, wait: Wait, held: bool, live: usize, wanted: usize) -> bool {
    keeps_place_at(silent, wait, held, live, 1, floor(wanted))
}

/// [`keeps_place`] for any redundancy (see [`Wait::limit_at`]).
pub fn keeps_place_at(
    silent: Duration,
    wait: Wait,
    held: bool,
    live: usize,
    needed: usize,
    floor: usize,
) -> bool {
    silent < wait.limit_at(held, live, needed, floor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: u64 = 3600;

    fn log(secs: &[u64]) -> Outages {
        let mut o = Outages::default();
        for &s in secs {
            o.record(Duration::from_secs(s));
        }
        o
    }

    #[test]
    fn a_peer_that_always_came_back_within_an_hour_gets_more_patience() {
        let (base, ceiling) = (Duration::from_secs(H / 2), Duration::from_secs(24 * H));
        assert_eq!(patience(&log(&[]), base, ceiling), base);
        assert_eq!(
            patience(&log(&[H]), base, ceiling),
            base,
            "one outage is no history"
        );
        assert_eq!(
            patience(&log(&[H / 4, H, H / 2]), base, ceiling),
            Duration::from_secs(H * 3 / 2)
        );
        assert_eq!(patience(&log(&[60, 60]), base, ceiling), base);
        assert_eq!(patience(&log(&[40 * H, 40 * H]), base, ceiling), ceiling);
    }

    #[test]
    fn floors_per_tier() {
        let f: Vec<usize> = crate::Tier::ALL
            .iter()
            .map(|t| floor(t.copies() as usize))
            .collect();
        assert_eq!(f, [6, 4, 2, 2]);
        assert_eq!((floor(0), floor(1)), (0, 1));
    }

    #[test]
    fn a_zone_mostly_silent_at_once_is_a_partition() {
        assert!(partitioned(10, 5));
        assert!(!partitioned(10, 4));
        assert!(!partitioned(2, 2), "two peers are not a zone's worth");
    }

    proptest! {
        #[test]
        fn patience_is_bounded_and_grows_with_longer_outages(
            secs in proptest::collection::vec(0u64..200_000, 0..20),
            extra in 0u64..200_000,
            base in 1u64..10_000,
            ceiling in 1u64..300_000,
        ) {
            let (b, c) = (Duration::from_secs(base), Duration::from_secs(ceiling));
            let o = log(&secs);
            prop_assert!(o.len() <= RECENT_OUTAGES);
            let p = patience(&o, b, c);
            prop_assert!(p >= b);
            prop_assert!(p <= c.max(b));
            // A longer outage never makes a peer with history less patient.
            if o.len() >= MIN_OUTAGES && o.len() < RECENT_OUTAGES {
                let mut longer = o.clone();
                longer.record(Duration::from_secs(o.longest().unwrap().as_secs() + extra));
                prop_assert!(patience(&longer, b, c) >= p);
            }
            // Every remembered outage is covered when the ceiling allows.
            if o.len() >= MIN_OUTAGES && p < c {
                prop_assert!(p >= o.longest().unwrap());
            }
        }

        #[test]
        fn waits_shrink_as_copies_go_and_never_pass_the_ceiling(
            silent in 0u64..300_000,
            outages in proptest::collection::vec(0u64..200_000, 0..10),
            base in 1u64..10_000,
            ceiling in 1u64..300_000,
            held in any::<bool>(),
            live in 0usize..8,
            wanted in 0usize..8,
        ) {
            let (b, c) = (Duration::from_secs(base), Duration::from_secs(ceiling));
            let w = Wait { base: b, patience: patience(&log(&outages), b, c), ceiling: c };
            let s = Duration::from_secs(silent);
            let keeps = keeps_place(s, w, held, live, wanted);
            // Never past the ceiling (or base, when the ceiling is lower).
            if s >= c.max(b) { prop_assert!(!keeps); }
            // Below the floor: never past the peer's own patience.
            if live < floor(wanted) && s >= w.patience { prop_assert!(!keeps); }
            // No evidence the peer held it: never past base.
            if !held && s >= b { prop_assert!(!keeps); }
            // One copy left: never past a few times base.
            if live <= 1 && s >= b * LAST_COPY_BASES { prop_assert!(!keeps); }
            // More live copies, or evidence, never shorten the wait.
            prop_assert!(w.limit(held, live + 1, wanted) >= w.limit(held, live, wanted));
            prop_assert!(w.limit(true, live, wanted) >= w.limit(held, live, wanted));
            // The eager policy is base for everyone.
            prop_assert_eq!(Wait::eager(b).limit(held, live, wanted), b);
            // The floor leaves at least wanted - 1 copies, and two when two are wanted.
            prop_assert!(floor(wanted) + 1 >= wanted);
            prop_assert!(floor(wanted) <= wanted);
            if wanted >= 2 { prop_assert!(floor(wanted) >= 2); }
        }

        #[test]
        fn partitions_need_most_of_a_zone(peers in 0usize..1000, silent in 0usize..1000) {
            let silent = silent.min(peers);
            if partitioned(peers, silent) {
                prop_assert!(peers >= PARTITION_MIN_PEERS);
                prop_assert!(2 * silent >= peers);
                prop_assert!(partitioned(peers, (silent + 1).min(peers)));
            }
        }
    }
}
