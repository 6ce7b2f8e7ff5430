//! Peer reputation from evidence this node gathered itself: proofs passed and
//! failed, timeouts, wrong bytes served, stores refused with room to spare.
//!
//! The score is Storj's beta reputation, kept explainable: two numbers, alpha
//! (weight of good evidence) and beta (weight of bad), both decayed by
//! [`LAMBDA`] at every new event, and `score = alpha / (alpha + beta)`. A new
//! peer starts at alpha = 1 / (1 - LAMBDA) = 20, beta = 0 (score 1.0): after
//! `k` failures in a row its score is `LAMBDA^k`, so with the default policy
//! it is warned after 3 consecutive failed proofs (0.857) and isolated after 6
//! (0.735). Passed proofs pull the score back up the same way, so a peer that
//! fails 1 proof in 20 settles near 0.95 and is never isolated.
//!
//! Until a peer has passed [`Policy::vetting_passes`] proofs it is *vetting*:
//! its copies count towards repair targets but never justify removing another
//! copy. Free peer ids make a fresh identity cheap; vetting makes it slow.

use serde::{Deserialize, Serialize};

/// Forgetting factor per event.
pub const LAMBDA: f64 = 0.95;

/// What a peer did, as seen by this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Evidence {
    /// Answered a possession proof correctly.
    ProofPassed,
    /// Answered a proof wrongly, or said it lacks a shard it claimed (`Has`).
    ProofFailed,
    /// Did not answer a proof within its deadline.
    TimedOut,
    /// Served bytes that do not hash to the shard id.
    WrongBytes,
    /// Acknowledged a store, then could not prove it.
    FalseAck,
    /// Refused a store while announcing room for it.
    RefusedStore,
}

impl Evidence {
    /// Weight of the event: +w good, -w bad, 0 neutral.
    pub fn weight(self) -> f64 {
        match self {
            Evidence::ProofPassed => 1.0,
            Evidence::ProofFailed | Evidence::WrongBytes | Evidence::FalseAck => -1.0,
            // Could be a slow link or a brief outage: half a failure.
            Evidence::TimedOut => -0.5,
            Evidence::RefusedStore => -0.25,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Evidence::ProofPassed => "proof passed",
            Evidence::ProofFailed => "proof failed",
            Evidence::TimedOut => "proof timed out",
            Evidence::WrongBytes => "served wrong bytes",
            Evidence::FalseAck => "acknowledged a store it cannot prove",
            Evidence::RefusedStore => "refused a store it had room for",
        }
    }
}

/// Thresholds of the policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub warn_below: f64,
    pub isolate_below: f64,
    /// Passed proofs before a peer's copies may justify removing another.
    pub vetting_passes: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            warn_below: 0.9,
            isolate_below: 0.75,
            vetting_passes: 10,
        }
    }
}

/// Where a peer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    /// Too few passed proofs yet: copies count, but never justify a removal.
    Vetting,
    Good,
    /// Below the warning threshold: still used, watched.
    Warned,
    /// Below the isolation threshold (or isolated by the operator): no new
    /// shards, its copies count for nothing.
    Isolated,
}

impl Standing {
    pub fn name(self) -> &'static str {
        match self {
            Standing::Vetting => "vetting",
            Standing::Good => "good",
            Standing::Warned => "warned",
            Standing::Isolated => "isolated",
        }
    }
}

/// The running score of one peer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reputation {
    pub alpha: f64,
    pub beta: f64,
    pub passed: u64,
    pub failed: u64,
    /// Unix seconds of the last event.
    pub last_at: u64,
    /// Isolated by the operator, whatever the score.
    pub manual_isolation: bool,
}

impl Default for Reputation {
    fn default() -> Self {
        Reputation {
            alpha: 1.0 / (1.0 - LAMBDA),
            beta: 0.0,
            passed: 0,
            failed: 0,
            last_at: 0,
            manual_isolation: false,
        }
    }
}

impl Reputation {
    /// Adds one event.
    pub fn record(&mut self, ev: Evidence, at: u64) {
        let w = ev.weight();
        if w == 0.0 {
            return;
        }
        self.alpha = LAMBDA * self.alpha + w.max(0.0);
        self.beta = LAMBDA * self.beta + (-w).max(0.0);
        if w > 0.0 {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        self.last_at = self.last_at.max(at);
    }

    pub fn score(&self) -> f64 {
        let total = self.alpha + self.beta;
        if total <= 0.0 {
            1.0
        } else {
            self.alpha / total
        }
    }

    pub fn standing(&self, policy: &Policy) -> Standing {
        let s = self.score();
        if self.manual_isolation || s < policy.isolate_below {
            Standing::Isolated
        } else if s < policy.warn_below {
            Standing::Warned
        } else if self.passed < policy.vetting_passes {
            Standing::Vetting
        } else {
            Standing::Good
        }
    }

    /// Whether this peer's proven copies may justify removing another copy.
    pub fn trusted(&self, policy: &Policy) -> bool {
        matches!(self.standing(policy), Standing::Good | Standing::Warned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn consecutive_failures_warn_then_isolate() {
        let p = Policy::default();
        let mut r = Reputation::default();
        for _ in 0..10 {
            r.record(Evidence::ProofPassed, 1);
        }
        assert_eq!(r.standing(&p), Standing::Good);
        let mut steps = Vec::new();
        for _ in 0..8 {
            r.record(Evidence::ProofFailed, 2);
            steps.push(r.standing(&p));
        }
        assert_eq!(steps[1], Standing::Good);
        assert_eq!(steps[2], Standing::Warned, "{steps:?}");
        assert_eq!(steps[5], Standing::Isolated, "{steps:?}");
    }

    #[test]
    fn a_new_peer_vets_and_a_liar_never_vets() {
        let p = Policy::default();
        let mut r = Reputation::default();
        assert_eq!(r.standing(&p), Standing::Vetting);
        assert!(!r.trusted(&p));
        for _ in 0..6 {
            r.record(Evidence::FalseAck, 1);
        }
        assert_eq!(r.standing(&p), Standing::Isolated);
    }

    proptest! {
        #[test]
        fn score_in_range_and_monotone(evs in proptest::collection::vec(0u8..6, 0..200)) {
            let all = [Evidence::ProofPassed, Evidence::ProofFailed, Evidence::TimedOut,
                Evidence::WrongBytes, Evidence::FalseAck, Evidence::RefusedStore];
            let mut r = Reputation::default();
            for e in &evs {
                let before = r.score();
                let ev = all[*e as usize];
                r.record(ev, 0);
                let s = r.score();
                prop_assert!((0.0..=1.0).contains(&s));
                if ev.weight() > 0.0 { prop_assert!(s >= before - 1e-12); }
                if ev.weight() < 0.0 { prop_assert!(s <= before + 1e-12); }
            }
            prop_assert_eq!(r.passed + r.failed, evs.len() as u64);
        }

        #[test]
        fn a_mostly_honest_peer_is_never_isolated(seed in any::<u64>()) {
            // Fails one proof in 20 at random positions: never isolated.
            let p = Policy::default();
            let mut r = Reputation::default();
            let mut x = seed | 1;
            let mut pos = 0;
            for i in 0..400u64 {
                if i % 20 == 0 {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    pos = x % 20;
                }
                let fail = i % 20 == pos;
                r.record(if fail { Evidence::ProofFailed } else { Evidence::ProofPassed }, i);
                prop_assert!(r.standing(&p) != Standing::Isolated, "isolated at {}", i);
            }
        }
    }
}
