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

/// A fixed one-minute window of requests per peer, answered `Busy` over
/// the limit (senders back off and retry).
pub(super) struct PerPeer {
    limit: u32,
    windows: HashMap<PeerId, (std::time::Instant, u32)>,
}

impl PerPeer {
    pub(super) fn new(limit: u32) -> Self {
        PerPeer {
            limit,
            windows: HashMap::new(),
        }
    }

    pub(super) fn allow(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        if self.windows.len() >= RATE_PEERS && !self.windows.contains_key(&peer) {
            self.windows.clear();
        }
        let (start, n) = self.windows.entry(peer).or_insert((now, 0));
        if now.duration_since(*start) >= std::time::Duration::from_secs(60) {
            *start = now;
            *n = 0;
        }
        *n = n.saturating_add(1);
        *n <= self.limit
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
        assert!(rate.allow(b, t), "another peer has its own window");
        assert!(!rate.allow(a, t + Duration::from_secs(59)));
        assert!(rate.allow(a, t + Duration::from_secs(60)), "a new minute");
    }
}
