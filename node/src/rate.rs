//! Per-peer token buckets: how much any one peer may ask of this node
//! (storage requests) or push through it (gossip), with a table bounded
//! in the number of peers it tracks.

use libp2p::PeerId;
use std::collections::HashMap;

/// Peers tracked; past this the table drops its expired entries, then
/// starts over.
pub(crate) const RATE_PEERS: usize = 10_000;

/// A token bucket per peer: `burst` requests at once after a quiet spell,
/// then one every `every`. The storage service answers `Busy` beyond it
/// (senders back off and retry, `net::ask`); the event loop drops gossip.
/// For the storage limits, a fixed one-minute window made a sender
/// over the limit wait for the rest of the minute, longer than its retries
/// last (about 16 s): an owner publishing its catalogue after a burst of
/// backups had every copy refused and kept only its own.
///
/// Kept as one instant per peer (GCRA): when its bucket would be full again.
pub(crate) struct PerPeer {
    every: std::time::Duration,
    burst: std::time::Duration,
    full_at: HashMap<PeerId, std::time::Instant>,
}

impl PerPeer {
    /// `limit` a minute, as many at once.
    pub(crate) fn per_minute(limit: u32) -> Self {
        let limit = limit.max(1);
        PerPeer::new(std::time::Duration::from_secs(60) / limit, limit)
    }

    pub(crate) fn new(every: std::time::Duration, burst: u32) -> Self {
        PerPeer {
            every,
            burst: every * burst.max(1),
            full_at: HashMap::new(),
        }
    }

    pub(crate) fn allow(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        if self.full_at.len() >= RATE_PEERS && !self.full_at.contains_key(&peer) {
            self.full_at.retain(|_, t| *t > now);
            if self.full_at.len() >= RATE_PEERS {
                self.full_at.clear();
            }
        }
        let full_at = self
            .full_at
            .get(&peer)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        // Tokens used: the time until the bucket is full, in `every`s.
        if full_at.duration_since(now) + self.every > self.burst {
            return false;
        }
        self.full_at.insert(peer, full_at + self.every);
        true
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn per_peer_limit_is_per_peer_and_per_minute() {
        let mut rate = PerPeer::per_minute(3);
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        assert_eq!(
            (0..5).map(|_| rate.allow(a, t)).collect::<Vec<_>>(),
            [true, true, true, false, false]
        );
        assert!(rate.allow(b, t), "another peer has its own bucket");
        // One token back every 20 s (3 a minute), never more than 3.
        assert!(!rate.allow(a, t + Duration::from_secs(19)));
        assert!(rate.allow(a, t + Duration::from_secs(20)), "one token back");
        assert!(!rate.allow(a, t + Duration::from_secs(21)));
        let later = t + Duration::from_secs(600);
        assert_eq!(
            (0..4).map(|_| rate.allow(a, later)).collect::<Vec<_>>(),
            [true, true, true, false],
            "a quiet spell refills the bucket, never past its size"
        );
    }

    #[test]
    fn a_steady_sender_at_the_rate_is_never_refused() {
        let mut rate = PerPeer::per_minute(10);
        let (a, t) = (PeerId::random(), Instant::now());
        for i in 0..100 {
            assert!(rate.allow(a, t + Duration::from_secs(6 * i)), "request {i}");
        }
    }

    #[test]
    fn a_sender_over_the_limit_gets_through_within_its_retries() {
        // `net::ask` retries a `Busy` answer after 0.25, 0.5, ... 8 s; 10 a
        // minute is the catalogue records' limit.
        let mut rate = PerPeer::per_minute(10);
        let (a, t) = (PeerId::random(), Instant::now());
        while rate.allow(a, t) {}
        let mut waited = Duration::ZERO;
        let through = (0..6).any(|i| {
            waited += Duration::from_millis(250 << i);
            rate.allow(a, t + waited)
        });
        assert!(through, "still refused after {waited:?}");
    }
}
