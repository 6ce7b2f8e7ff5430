//! The addresses this node dials its peers at, as their signed records
//! announce them (`Client::try_add_address`, from membership).
//!
//! libp2p keeps its own caches (request-response's holds 100 peers, most
//! recent first, and drops an address at its first failed dial; Kademlia's
//! table holds 20 per bucket), so in a swarm of 200 a node could not dial
//! about half of its peers at all: a restore in the live simulator failed
//! to dial 90 peers in 200 ms and lost a file, and placements logged "Failed
//! to dial" 60-80 times a run. Requests now carry the addresses from here.

use libp2p::{Multiaddr, PeerId};
use std::collections::HashMap;

/// Peers with addresses kept (the most a membership view holds).
const MAX_PEERS: usize = crate::membership::MAX_VIEW;
/// Addresses kept per peer (as many as a heartbeat may announce).
const MAX_PER_PEER: usize = crate::membership::MAX_HEARTBEAT_ADDRS;

#[derive(Default)]
pub(super) struct AddressBook(HashMap<PeerId, Vec<Multiaddr>>);

impl AddressBook {
    /// Keeps `addr` for `peer`, newest last; the oldest of a peer's goes
    /// past [`MAX_PER_PEER`], and some other peer's past [`MAX_PEERS`].
    pub(super) fn add(&mut self, peer: PeerId, addr: Multiaddr) {
        if self.0.len() >= MAX_PEERS && !self.0.contains_key(&peer) {
            if let Some(other) = self.0.keys().next().copied() {
                self.0.remove(&other);
            }
        }
        let v = self.0.entry(peer).or_default();
        v.retain(|a| *a != addr);
        if v.len() >= MAX_PER_PEER {
            v.remove(0);
        }
        v.push(addr);
    }

    /// The addresses known for `peer` (none: libp2p's own caches decide).
    pub(super) fn of(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.0.get(peer).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_addresses_of_each_peer() {
        let mut b = AddressBook::default();
        let p = PeerId::random();
        for port in 0..(MAX_PER_PEER as u16 + 3) {
            b.add(p, format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap());
        }
        b.add(p, "/ip4/127.0.0.1/tcp/5".parse().unwrap());
        let got = b.of(&p);
        assert_eq!(got.len(), MAX_PER_PEER);
        assert_eq!(got.last().unwrap().to_string(), "/ip4/127.0.0.1/tcp/5");
        assert!(!got.iter().any(|a| a.to_string() == "/ip4/127.0.0.1/tcp/0"));
        assert!(b.of(&PeerId::random()).is_empty());
    }
}
