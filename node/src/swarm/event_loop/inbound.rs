//! Checks on what peers send the event loop: a token bucket per gossip
//! publisher ([`PerPeer`]), gossip that must decode within its topic's bounds, the bytes a
//! response holds (for the response budget), and which addresses are usable.

use crate::rate::PerPeer;
use libp2p::{Multiaddr, PeerId};
use shardnet_protocol::wire::Response;
use std::time::Duration;

/// Gossip messages each publisher may have accepted per second, and in a burst
/// (a heartbeat every 2 s, down and rebalance notes now and then).
pub(super) const GOSSIP_PER_SEC: u32 = 10;

pub(super) const GOSSIP_BURST: u32 = 30;

/// A token bucket per gossip publisher.
pub(super) fn gossip_limiter() -> PerPeer {
    PerPeer::new(Duration::from_secs(1) / GOSSIP_PER_SEC, GOSSIP_BURST)
}

/// Bytes a response holds (shards, samples and member lists; the rest is
/// small).
pub(super) fn response_bytes(r: &Response) -> u64 {
    match r {
        Response::Shard(b) => b.len() as u64,
        Response::Samples(v) => v.iter().map(|b| b.len() as u64).sum(),
        Response::Members(v) => v.iter().map(|m| m.approx_len() as u64).sum(),
        _ => 0,
    }
}

/// Whether a gossip message decodes and keeps its topic's bounds; a
/// heartbeat must be its publisher's own, signed by it.
pub(super) fn gossip_is_valid(topic: &str, data: &[u8], source: &PeerId) -> bool {
    use shardnet_protocol::gossip::Announcement;
    if topic == super::super::MEMBERSHIP_TOPIC {
        return match Announcement::decode(data) {
            Ok(Announcement::Heartbeat(rec)) => rec.verify().is_ok_and(|p| p == *source),
            Ok(Announcement::Down(id)) => PeerId::from_bytes(&id).is_ok(),
            Ok(Announcement::Leave) => true,
            Err(_) => false,
        };
    }
    // Rebalance notes are free text for operators' logs, bounded by the
    // transport's size limit.
    true
}

/// The IP address of a multiaddr, if it has one.
pub fn ip_of(addr: &Multiaddr) -> Option<std::net::IpAddr> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => Some(ip.into()),
        libp2p::multiaddr::Protocol::Ip6(ip) => Some(ip.into()),
        _ => None,
    })
}

/// Loopback and routable addresses are usable; unspecified (0.0.0.0) are not.
pub(super) fn is_usable(addr: &Multiaddr) -> bool {
    !addr
        .iter()
        .any(|p| matches!(p, libp2p::multiaddr::Protocol::Ip4(ip) if ip.is_unspecified()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::PeerId;
    use std::time::Instant;

    #[test]
    fn a_publisher_gets_its_burst_then_its_rate() {
        let mut l = gossip_limiter();
        let (p, q) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        let burst = (0..100).filter(|_| l.allow(p, t0)).count();
        assert_eq!(burst, GOSSIP_BURST as usize);
        // Another publisher is not affected.
        assert!(l.allow(q, t0));
        // One second later: the rate's worth again.
        let t1 = t0 + Duration::from_secs(1);
        let more = (0..100).filter(|_| l.allow(p, t1)).count();
        assert_eq!(more, GOSSIP_PER_SEC as usize);
    }
}
