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
use std::collections::{BTreeMap, HashMap};

/// Peers with addresses kept (the most a membership view holds).
const MAX_PEERS: usize = crate::membership::MAX_VIEW;
/// Addresses kept per peer (as many as a heartbeat may announce).
const MAX_PER_PEER: usize = crate::membership::MAX_HEARTBEAT_ADDRS;

/// Addresses by peer, and the peers in the order they were last announced,
/// so that a full book forgets the peer heard from longest ago (a peer that
/// keeps announcing itself stays; one that went quiet goes first).
#[derive(Default)]
pub(super) struct AddressBook {
    peers: HashMap<PeerId, (u64, Vec<Multiaddr>)>,
    /// Announcement sequence number → peer; the first entry is the oldest.
    order: BTreeMap<u64, PeerId>,
    next: u64,
}

impl AddressBook {
    /// Keeps `addr` for `peer`, newest last; the oldest of a peer's goes
    /// past [`MAX_PER_PEER`], and the peer announced longest ago past
    /// [`MAX_PEERS`].
    pub(super) fn add(&mut self, peer: PeerId, addr: Multiaddr) {
        self.add_capped(peer, addr, MAX_PEERS);
    }

    fn add_capped(&mut self, peer: PeerId, addr: Multiaddr, max_peers: usize) {
        let seq = self.next;
        self.next += 1;
        match self.peers.get_mut(&peer) {
            Some((old, _)) => {
                self.order.remove(old);
                *old = seq;
            }
            None => {
                while self.peers.len() >= max_peers {
                    let Some((_, oldest)) = self.order.pop_first() else {
                        break;
                    };
                    self.peers.remove(&oldest);
                }
                self.peers.insert(peer, (seq, Vec::new()));
            }
        }
        self.order.insert(seq, peer);
        if let Some((_, v)) = self.peers.get_mut(&peer) {
            v.retain(|a| *a != addr);
            if v.len() >= MAX_PER_PEER {
                v.remove(0);
            }
            v.push(addr);
        }
    }

    /// The addresses known for `peer` (none: libp2p's own caches decide).
    pub(super) fn of(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.peers
            .get(peer)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
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

    #[test]
    fn a_full_book_forgets_the_peer_announced_longest_ago() {
        let mut b = AddressBook::default();
        let a: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        let peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        for p in &peers[..3] {
            b.add_capped(*p, a.clone(), 3);
        }
        // The first peer announces itself again: now the second is oldest.
        b.add_capped(peers[0], a.clone(), 3);
        b.add_capped(peers[3], a.clone(), 3);
        assert_eq!(b.peers.len(), 3);
        assert_eq!(b.order.len(), 3);
        assert!(b.of(&peers[1]).is_empty(), "the oldest announcement goes");
        for p in [peers[0], peers[2], peers[3]] {
            assert_eq!(b.of(&p), vec![a.clone()]);
        }
    }
}
