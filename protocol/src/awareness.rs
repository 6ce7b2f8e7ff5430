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

    proptest! {
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
