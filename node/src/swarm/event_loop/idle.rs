//! Closing idle connections here, because libp2p's idle timeout never fires
//! on them: gossipsub keeps a long-lived stream open on every connection to a
//! subscriber, and a connection with an open stream is never idle
//! (rust-libp2p issue #5190). Without this sweep every peer a node ever
//! talked to stays connected: 99 connections per node at 100 nodes, and the
//! process's 20,000 file descriptors gone at 140 nodes.
//!
//! The event loop records each peer's requests, both ways. A sweep closes the
//! connections of peers with no request in flight and none for
//! [`IDLE_TIMEOUT`](super::super::IDLE_TIMEOUT), unless they are in this
//! node's gossipsub mesh (which carries the membership and rebalance gossip).
//! A connection that never carried a request goes after
//! [`UNUSED_TIMEOUT`](super::super::UNUSED_TIMEOUT): those are Kademlia's
//! bootstrap lookups, about 300 queries per joining node in a 200-node swarm
//! (measured: 8,858 dials in the first 70 s of 200 nodes in one process,
//! 935 of them for this crate's requests).
//! Ring neighbours are probed every few seconds, and transfers are requests,
//! so what goes are Kademlia lookups' dials, finished transfers and peers no
//! longer watched.

use libp2p::PeerId;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Requests of one peer: in flight, and when one last started or ended.
#[derive(Clone, Copy, Debug)]
struct Use {
    in_flight: u32,
    last: Instant,
    /// A request went either way since this entry was made (entries of
    /// peers no longer connected go at the next sweep).
    used: bool,
}

/// Each peer's request traffic (one entry per connected peer, or per peer
/// with a request in flight for less than `stuck`: bounded by the
/// connection limits and the services' own limits on requests).
#[derive(Default)]
pub(super) struct Activity {
    peers: HashMap<PeerId, Use>,
}

impl Activity {
    /// A connection to `peer` came up: it gets a full idle timeout.
    pub(super) fn connected(&mut self, peer: PeerId, now: Instant) {
        self.peers
            .entry(peer)
            .and_modify(|u| u.last = now)
            .or_insert(Use {
                in_flight: 0,
                last: now,
                used: false,
            });
    }

    /// A request to or from `peer` started.
    pub(super) fn started(&mut self, peer: PeerId, now: Instant) {
        let u = self.peers.entry(peer).or_insert(Use {
            in_flight: 0,
            last: now,
            used: true,
        });
        u.used = true;
        u.in_flight = u.in_flight.saturating_add(1);
        u.last = now;
    }

    /// A request to or from `peer` ended (answered, failed or timed out).
    pub(super) fn finished(&mut self, peer: PeerId, now: Instant) {
        if let Some(u) = self.peers.get_mut(&peer) {
            u.in_flight = u.in_flight.saturating_sub(1);
            u.last = now;
        }
    }

    /// The peers whose connections should close now: connected, nothing in
    /// flight, quiet for `idle`, and not kept (mesh peers). A count of
    /// requests in flight that has not moved for `stuck` (longer than any
    /// request may take) no longer protects the peer: an event libp2p did
    /// not report must not pin a connection for good. Entries of peers no
    /// longer connected and with nothing in flight are dropped.
    pub(super) fn sweep(
        &mut self,
        now: Instant,
        idle: Duration,
        unused: Duration,
        stuck: Duration,
        connected: &HashSet<PeerId>,
        keep: &HashSet<PeerId>,
    ) -> Vec<PeerId> {
        self.peers.retain(|p, u| {
            connected.contains(p)
                || (u.in_flight > 0 && now.saturating_duration_since(u.last) < stuck)
        });
        for p in connected {
            self.peers.entry(*p).or_insert(Use {
                in_flight: 0,
                last: now,
                used: false,
            });
        }
        self.peers
            .iter()
            .filter(|(p, u)| {
                let quiet = now.saturating_duration_since(u.last);
                connected.contains(p)
                    && !keep.contains(p)
                    && quiet >= if u.used { idle } else { unused }
                    && (u.in_flight == 0 || quiet >= stuck)
            })
            .map(|(p, _)| *p)
            .collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);
    const STUCK: Duration = Duration::from_secs(240);

    fn set(peers: &[PeerId]) -> HashSet<PeerId> {
        peers.iter().copied().collect()
    }

    #[test]
    fn only_quiet_peers_outside_the_mesh_with_nothing_in_flight_go() {
        let t0 = Instant::now();
        let [quiet, busy, mesh, recent] = [(); 4].map(|_| PeerId::random());
        let mut a = Activity::default();
        for p in [quiet, busy, mesh] {
            a.connected(p, t0);
        }
        a.started(busy, t0);
        let later = t0 + IDLE;
        a.connected(recent, later - Duration::from_secs(1));
        let all = set(&[quiet, busy, mesh, recent]);
        assert_eq!(
            a.sweep(later, IDLE, IDLE, STUCK, &all, &set(&[mesh])),
            vec![quiet]
        );
        a.finished(busy, later);
        assert!(a.sweep(later, IDLE, IDLE, STUCK, &all, &set(&[mesh])).len() == 1);
        let much_later = later + IDLE;
        let mut gone = a.sweep(much_later, IDLE, IDLE, STUCK, &all, &set(&[mesh]));
        gone.sort();
        let mut want = vec![quiet, busy, recent];
        want.sort();
        assert_eq!(gone, want, "the mesh peer stays");
    }

    #[test]
    fn a_count_that_never_moves_stops_protecting_and_gone_peers_are_dropped() {
        let t0 = Instant::now();
        let (p, q) = (PeerId::random(), PeerId::random());
        let mut a = Activity::default();
        a.started(p, t0);
        let none = HashSet::new();
        let connected = set(&[p]);
        assert!(a
            .sweep(t0 + IDLE, IDLE, IDLE, STUCK, &connected, &none)
            .is_empty());
        assert_eq!(
            a.sweep(t0 + STUCK, IDLE, IDLE, STUCK, &connected, &none),
            vec![p]
        );
        // A dial that failed: nothing in flight, not connected.
        a.started(q, t0);
        a.finished(q, t0);
        a.sweep(t0, IDLE, IDLE, STUCK, &connected, &none);
        assert_eq!(a.len(), 1, "only the connected peer is tracked");
        a.sweep(t0, IDLE, IDLE, STUCK, &none, &none);
        assert_eq!(a.len(), 1, "its request is still counted in flight");
        a.sweep(t0 + STUCK, IDLE, IDLE, STUCK, &none, &none);
        assert_eq!(a.len(), 0, "but not for longer than any request takes");
    }

    #[test]
    fn a_connection_that_never_carried_a_request_goes_sooner() {
        const UNUSED: Duration = Duration::from_secs(10);
        let t0 = Instant::now();
        let [lookup, probed] = [(); 2].map(|_| PeerId::random());
        let mut a = Activity::default();
        a.connected(lookup, t0);
        a.connected(probed, t0);
        a.started(probed, t0);
        a.finished(probed, t0);
        let all = set(&[lookup, probed]);
        let none = set(&[]);
        assert!(a
            .sweep(
                t0 + Duration::from_secs(9),
                IDLE,
                UNUSED,
                STUCK,
                &all,
                &none
            )
            .is_empty());
        assert_eq!(
            a.sweep(t0 + UNUSED, IDLE, UNUSED, STUCK, &all, &none),
            vec![lookup]
        );
        assert_eq!(
            a.sweep(t0 + IDLE, IDLE, UNUSED, STUCK, &all, &none).len(),
            2
        );
        assert!(
            a.sweep(t0 + UNUSED, IDLE, UNUSED, STUCK, &all, &set(&[lookup]))
                .is_empty(),
            "a mesh peer stays however little it was used"
        );
    }
}
