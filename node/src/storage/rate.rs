//! Per-peer rate limits on requests that grow this node's store or its
//! metadata (catalogue records, lease renewals), or that walk the whole
//! member list (`Members`, `Digest`, `Records`).

use libp2p::PeerId;
use std::collections::HashMap;

/// Catalogue records one peer may store here per minute.
pub(super) const CATALOGUES_PER_MINUTE: u32 = 10;
/// Lease renewals one peer may send here per minute (100 a second: a
/// retention change of 100,000 shards held here takes 17 minutes, and each
/// renewal grows a shard's metadata and the audit log).
pub(super) const RENEWS_PER_MINUTE: u32 = 6_000;
/// Reads of the member list one peer may make here per minute (a joiner's
/// `Members`, a digest and its pull): each walks the whole view and may
/// answer half a frame. An honest node makes two every digest period.
pub(super) const LIST_READS_PER_MINUTE: u32 = 6;
/// Peers tracked; past this the table starts over.
pub(super) const RATE_PEERS: usize = 10_000;

/// A token bucket per peer: `limit` requests at once after a quiet spell,
/// then one every minute / `limit`, answered `Busy` beyond that (senders
/// back off and retry, `net::ask`). A fixed one-minute window made a sender
/// over the limit wait for the rest of the minute, longer than its retries
/// last (about 16 s): an owner publishing its catalogue after a burst of
/// backups had every copy refused and kept only its own.
///
/// Kept as one instant per peer (GCRA): when its bucket would be full again.
pub(super) struct PerPeer {
    every: std::time::Duration,
    burst: std::time::Duration,
    full_at: HashMap<PeerId, std::time::Instant>,
}

impl PerPeer {
    pub(super) fn new(limit: u32) -> Self {
        let limit = limit.max(1);
        let every = std::time::Duration::from_secs(60) / limit;
        PerPeer {
            every,
            burst: every * limit,
            full_at: HashMap::new(),
        }
    }

    pub(super) fn allow(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
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
        let mut rate = PerPeer::new(3);
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
        let mut rate = PerPeer::new(10);
        let (a, t) = (PeerId::random(), Instant::now());
        for i in 0..100 {
            assert!(rate.allow(a, t + Duration::from_secs(6 * i)), "request {i}");
        }
    }

    #[test]
    fn a_sender_over_the_limit_gets_through_within_its_retries() {
        // `net::ask` retries a `Busy` answer after 0.25, 0.5, ... 8 s.
        let mut rate = PerPeer::new(super::CATALOGUES_PER_MINUTE);
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
