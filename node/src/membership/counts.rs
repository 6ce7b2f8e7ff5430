//! Summaries of the view that tasks running every few seconds need, without
//! [`View::list`]'s full listing (a string per peer id, zones, addresses):
//! a repair scan on every node listed the whole view twice per scan, 8% of
//! an idle 100-node live run's CPU, growing with the swarm's size squared.

use super::{Heartbeat, PeerState, View};
use std::time::Instant;

impl View {
    /// The share of known peers (this node included) that are not live:
    /// the churn figure of repair's plan.
    pub fn not_live_share(&self) -> f64 {
        let now = Instant::now();
        let peers = self.lock();
        let not_live = peers
            .values()
            .filter(|e| self.state_of(e, now) != PeerState::Live)
            .count();
        not_live as f64 / peers.len().max(1) as f64
    }

    /// This node's own heartbeat as the view holds it.
    pub fn local_heartbeat(&self) -> Option<Heartbeat> {
        self.lock().get(&self.local).map(|e| e.hb.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::PeerId;
    use std::time::Duration;

    #[test]
    fn counts_agree_with_the_full_listing() {
        let local = PeerId::random();
        let v = View::new(local, Duration::from_secs(1), Duration::from_secs(5));
        assert!(v.local_heartbeat().is_none());
        assert_eq!(v.not_live_share(), 0.0);
        let hb = |capacity| Heartbeat {
            capacity,
            ..super::super::tests::hb_in("z")
        };
        v.heard(local, hb(7));
        let other = PeerId::random();
        v.heard(other, hb(9));
        let gone = PeerId::random();
        v.heard(gone, hb(3));
        v.left(&gone);
        let list = v.list();
        let not_live = list.iter().filter(|p| p.state != PeerState::Live).count();
        assert_eq!(not_live, 1);
        assert_eq!(v.not_live_share(), not_live as f64 / list.len() as f64);
        assert_eq!(v.local_heartbeat().map(|h| h.capacity), Some(7));
    }
}
