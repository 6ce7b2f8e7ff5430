//! Kademlia with its dials paced: the node's DHT behaviour, except that new
//! connections for its lookups come from a token bucket ([`KAD_DIALS_PER_SEC`],
//! burst [`KAD_DIAL_BURST`]). A lookup step to a peer this node is not
//! connected to, beyond the bucket, fails at once for that query (reported to
//! Kademlia as an aborted dial, which leaves its routing table alone), and the
//! lookup goes on with the peers it can reach over open connections.
//!
//! Why: libp2p-kad bootstraps by itself whenever a peer enters a routing table
//! of fewer than 20 entries, and a bootstrap walks every bucket: about 300
//! lookup dials per joining node in a 200-node swarm. Measured in one process
//! (`shardnet sim run sim/scenarios/live-200.toml`): 27,657 connections were
//! dialled during a start that ran out of the process's 20,000 descriptors
//! before 200 nodes had joined; in the first minute of two later starts,
//! Kademlia made 68% and 76% of the dialled connections.
//! libp2p-kad 0.49 cannot turn its automatic bootstrap off from outside
//! (`set_automatic_bootstrap_throttle` is crate-private), so the pace is kept
//! here, where the dials leave it. Placement does not use Kademlia lookups
//! (it computes XOR distance over the membership view), so a lookup that ends
//! on fewer peers costs this node nothing it relies on. A volunteer's home
//! router is spared the same burst of connections.

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::kad;
use libp2p::swarm::behaviour::FromSwarm;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, DialError, DialFailure, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use std::task::{Context, Poll};
use std::time::Instant;

/// New connections Kademlia may open per second, sustained (one in 5 s:
/// at 1 a second, 200 nodes still dialled about 1,000 a minute for it).
pub(crate) const KAD_DIALS_PER_SEC: f64 = 0.2;
/// New connections Kademlia may open at once (a first lookup through the
/// bootstrap peers' neighbours).
pub(crate) const KAD_DIAL_BURST: f64 = 10.0;

/// A token bucket: `rate` tokens a second, at most `burst` saved.
#[derive(Debug, Clone)]
pub(crate) struct DialPace {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl DialPace {
    pub(crate) fn new(rate: f64, burst: f64, now: Instant) -> Self {
        DialPace {
            tokens: burst,
            last: now,
            rate,
            burst,
        }
    }

    /// Takes a token if one is there.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// [`kad::Behaviour`] whose dials go through a [`DialPace`].
pub(crate) struct PacedKad {
    inner: kad::Behaviour<kad::store::MemoryStore>,
    pace: DialPace,
    /// Dials refused since start (logged with `RUST_LOG=shardnet::dials=debug`).
    refused: u64,
}

impl PacedKad {
    pub(crate) fn new(inner: kad::Behaviour<kad::store::MemoryStore>) -> Self {
        PacedKad {
            inner,
            pace: DialPace::new(KAD_DIALS_PER_SEC, KAD_DIAL_BURST, Instant::now()),
            refused: 0,
        }
    }

    pub(crate) fn add_address(&mut self, peer: &PeerId, addr: Multiaddr) {
        self.inner.add_address(peer, addr);
    }
}

impl NetworkBehaviour for PacedKad {
    type ConnectionHandler = THandler<kad::Behaviour<kad::store::MemoryStore>>;
    type ToSwarm = kad::Event;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_inbound_connection(id, peer, local, remote)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, peer, addresses, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_outbound_connection(id, peer, addr, role, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<kad::Event, THandlerInEvent<Self>>> {
        loop {
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::Dial { opts }) if !self.pace.allow(Instant::now()) => {
                    self.refused += 1;
                    tracing::debug!(target: "shardnet::dials", refused = self.refused, "kad dial refused");
                    // The query that wanted this peer counts it as failed
                    // and moves on; an aborted dial leaves the routing
                    // table as it is.
                    self.inner
                        .on_swarm_event(FromSwarm::DialFailure(DialFailure {
                            peer_id: opts.get_peer_id(),
                            error: &DialError::Aborted,
                            connection_id: opts.connection_id(),
                        }));
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_gives_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut p = DialPace::new(2.0, 5.0, t0);
        assert_eq!((0..50).filter(|_| p.allow(t0)).count(), 5);
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            (0..50).filter(|_| p.allow(t1)).count(),
            5,
            "capped at the burst"
        );
        let t2 = t1 + Duration::from_millis(500);
        assert_eq!((0..50).filter(|_| p.allow(t2)).count(), 1);
        // An earlier instant gives nothing, and does not move the bucket's
        // clock back (which would pay the same seconds twice).
        assert!(!p.allow(t0));
        assert!(!p.allow(t2));
    }
}
