//! Local health awareness, after Lifeguard (Dadgar, Phillips and Currey,
//! 2018; HashiCorp memberlist's `awareness.go`): a node whose own probes
//! keep timing out is more likely slow itself (a saturated CPU, a full
//! uplink) than surrounded by dead peers. Each timeout raises a score, each
//! answer lowers it, and the node waits `score + 1` times longer before it
//! calls a probe lost. A slow node thus stops accusing healthy peers, which
//! would make every other node probe them and load itself further: in a
//! 100-node live run on 2 cores, probes with a fixed 5 s timeout turned one
//! backup's load into 37,036 timed-out probes and 8,310 "down" verdicts, of
//! which about 300 were true (3 crashed nodes, seen by 100 nodes each).
//!
//! Errors other than a timeout (a refused dial, a reset connection) are
//! evidence about the peer, not about this node: they leave the score alone,
//! so a crashed neighbour is still found at the unscaled speed.

use std::time::Duration;

/// Highest score: probes wait at most this many times longer, plus one.
pub const MAX_SCORE: u32 = 8;

/// This node's own health score, 0 (healthy) to [`MAX_SCORE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Awareness {
    score: u32,
}

impl Awareness {
    /// A probe of this node's got no answer in time.
    pub fn timed_out(&mut self) {
        self.score = (self.score + 1).min(MAX_SCORE);
    }

    /// Another node reported this node silent (it refutes the report): it
    /// was slow enough to be suspected.
    pub fn suspected(&mut self) {
        self.timed_out();
    }

    /// This node's own periodic work ran `lag` after it was due, with
    /// `period` between runs: its runtime is behind (a saturated CPU), so a
    /// probe it times now partly measures its own queue. The score rises to
    /// at least one step per quarter period of lag (a lag under a quarter
    /// period changes nothing). The timeouts alone did not show it: in a
    /// 200-node live run on 2 cores the scheduler ran 0.3-1.1 s late for
    /// minutes, yet every probe answered in time brought the score back
    /// down, and probes timed out at score 0 (27,693 in 4.5 minutes).
    pub fn lagged(&mut self, lag: Duration, period: Duration) {
        if period.is_zero() {
            return;
        }
        let steps = (lag.as_nanos() * 4 / period.as_nanos()).min(u128::from(MAX_SCORE)) as u32;
        self.score = self.score.max(steps);
    }

    /// A probe of this node's was answered.
    pub fn answered(&mut self) {
        self.score = self.score.saturating_sub(1);
    }

    pub fn score(&self) -> u32 {
        self.score
    }

    /// `base` stretched by the score: `base × (score + 1)`.
    pub fn scale(&self, base: Duration) -> Duration {
        base * (self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timeouts_stretch_the_wait_and_answers_bring_it_back() {
        let mut a = Awareness::default();
        let base = Duration::from_secs(5);
        assert_eq!(a.scale(base), base);
        a.timed_out();
        a.suspected();
        assert_eq!(a.scale(base), Duration::from_secs(15));
        a.answered();
        assert_eq!(a.scale(base), Duration::from_secs(10));
    }

    #[test]
    fn a_late_tick_raises_the_score_to_its_lag() {
        let mut a = Awareness::default();
        let period = Duration::from_secs(1);
        a.lagged(Duration::from_millis(200), period);
        assert_eq!(a.score(), 0, "under a quarter period: nothing");
        a.lagged(Duration::from_millis(1_100), period);
        assert_eq!(a.score(), 4);
        a.lagged(Duration::from_millis(300), period);
        assert_eq!(a.score(), 4, "a floor, not a reset");
        a.lagged(Duration::from_secs(60), period);
        assert_eq!(a.score(), MAX_SCORE);
        a.lagged(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(a.score(), MAX_SCORE);
    }

    proptest! {
        /// A lag raises the score to at least its steps, never lowers it,
        /// and never past `MAX_SCORE`; a longer lag never gives less.
        #[test]
        fn lag_is_a_bounded_monotone_floor(
            start in 0u32..20,
            lag_ms in 0u64..100_000,
            more_ms in 0u64..10_000,
            period_ms in 1u64..10_000,
        ) {
            let period = Duration::from_millis(period_ms);
            let mut a = Awareness::default();
            for _ in 0..start {
                a.timed_out();
            }
            let before = a.score();
            let mut b = a;
            a.lagged(Duration::from_millis(lag_ms), period);
            b.lagged(Duration::from_millis(lag_ms + more_ms), period);
            prop_assert!(a.score() >= before);
            prop_assert!(a.score() <= MAX_SCORE);
            prop_assert!(b.score() >= a.score());
            if lag_ms * 4 < period_ms {
                prop_assert_eq!(a.score(), before);
            }
        }

        /// Whatever happens, the score stays within bounds, the wait within
        /// `base × (MAX_SCORE + 1)`, and `MAX_SCORE` answers in a row make a
        /// node healthy again.
        #[test]
        fn bounded_and_recovering(events in proptest::collection::vec(0u8..3, 0..200)) {
            let mut a = Awareness::default();
            let base = Duration::from_millis(100);
            for e in events {
                let before = a.score();
                match e {
                    0 => a.timed_out(),
                    1 => a.suspected(),
                    _ => a.answered(),
                }
                prop_assert!(a.score() <= MAX_SCORE);
                prop_assert!(a.score().abs_diff(before) <= 1);
                prop_assert!(a.scale(base) >= base);
                prop_assert!(a.scale(base) <= base * (MAX_SCORE + 1));
            }
            for _ in 0..MAX_SCORE {
                a.answered();
            }
            prop_assert_eq!(a.score(), 0);
        }
    }
}
