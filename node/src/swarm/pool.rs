//! Which connections a node keeps. It needs its gossip mesh and the peers it
//! is exchanging shards with, not a connection to every peer it ever spoke
//! to: in a swarm where Kademlia queries, audits and repairs touch most
//! peers, connections left to the idle timeout grow to one per peer (49 per
//! node at 50 nodes, 9,900 in a 100-node swarm in one process; a file
//! descriptor each end). Past [`TARGET`] connected peers, the least recently
//! used ones that are neither in the mesh nor in the middle of an exchange
//! are closed; they are dialled again when needed.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Connected peers a node keeps without closing any (the gossip mesh is at
/// most 12 per topic, mostly the same peers; the rest serves transfers and
/// queries).
pub const TARGET: usize = 32;
/// A peer used this recently stays (a transfer batch pauses between shards).
pub const GRACE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Pool {
    /// Last exchange with each connected peer.
    last: HashMap<PeerId, Instant>,
    /// Requests and responses under way with each peer.
    open: HashMap<PeerId, u32>,
}

impl Pool {
    pub fn connected(&mut self, peer: PeerId, now: Instant) {
        self.last.insert(peer, now);
    }

    /// The last connection to `peer` closed.
    pub fn disconnected(&mut self, peer: &PeerId) {
        self.last.remove(peer);
        self.open.remove(peer);
    }

    /// A request to or from `peer` began.
    pub fn began(&mut self, peer: PeerId, now: Instant) {
        *self.open.entry(peer).or_default() += 1;
        if let Some(t) = self.last.get_mut(&peer) {
            *t = now;
        }
    }

    /// A request to or from `peer` ended (answered, sent or failed).
    pub fn ended(&mut self, peer: &PeerId, now: Instant) {
        if let Some(n) = self.open.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open.remove(peer);
            }
        }
        if let Some(t) = self.last.get_mut(peer) {
            *t = now;
        }
    }

    /// Peers to disconnect so that at most `target` stay connected, least
    /// recently used first, never one that `keep` names (mesh peers), one
    /// with an exchange under way, or one used within [`GRACE`].
    pub fn excess(
        &self,
        target: usize,
        now: Instant,
        keep: impl Fn(&PeerId) -> bool,
    ) -> Vec<PeerId> {
        let over = self.last.len().saturating_sub(target);
        if over == 0 {
            return Vec::new();
        }
        let mut idle: Vec<(Instant, PeerId)> = self
            .last
            .iter()
            .filter(|(p, t)| {
                !self.open.contains_key(p) && now.duration_since(**t) >= GRACE && !keep(p)
            })
            .map(|(p, t)| (*t, *p))
            .collect();
        idle.sort_unstable();
        idle.into_iter().take(over).map(|(_, p)| p).collect()
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_the_least_recently_used_idle_peers_beyond_the_target() {
        let t0 = Instant::now();
        let mut pool = Pool::default();
        let peers: Vec<PeerId> = (0..6).map(|_| PeerId::random()).collect();
        for (i, p) in peers.iter().enumerate() {
            pool.connected(*p, t0 + Duration::from_secs(i as u64));
        }
        let now = t0 + Duration::from_secs(60);
        // Under or at the target: nothing.
        assert!(pool.excess(6, now, |_| false).is_empty());
        // Two over: the two oldest.
        assert_eq!(pool.excess(4, now, |_| false), vec![peers[0], peers[1]]);
        // A mesh peer and a peer with a transfer under way stay.
        pool.began(peers[1], t0);
        assert_eq!(
            pool.excess(4, now, |p| *p == peers[0]),
            vec![peers[2], peers[3]]
        );
        // The transfer ends: used just now, so within the grace period.
        pool.ended(&peers[1], now);
        assert_eq!(pool.excess(4, now, |_| false), vec![peers[0], peers[2]]);
        // A recently used peer is never closed, even if that leaves the pool over.
        let soon = now + Duration::from_secs(1);
        assert_eq!(pool.excess(0, soon, |_| false).len(), 5);
        pool.disconnected(&peers[0]);
        assert_eq!(pool.len(), 5);
    }
}
