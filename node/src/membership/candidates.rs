//! The view as placement sees it: candidates for new shards (live peers
//! with room), the responsible sets repair works towards, and room checks.

use super::{Entry, PeerState, View};
use libp2p::PeerId;
use shardnet_protocol::placement::{self, peer_key, Candidate};
use std::time::Instant;

impl View {
    /// Live peers as placement candidates for new shards.
    pub fn candidates(&self) -> Vec<Candidate<PeerId>> {
        self.candidates_in(&[PeerState::Live])
    }

    /// Live and suspect peers, and down ones silent for less than the
    /// patience ceiling: the responsible sets repair works towards (a silent
    /// peer's place in each is kept or given away by repair, shard by shard:
    /// `protocol::patience::Wait::limit`).
    ///
    /// Fill levels are left out here on purpose: a peer's responsibility for
    /// the shards it already holds must not depend on how full it is, or a peer
    /// at its capacity would hand everything off, become eligible again, take
    /// shards back and flap (measured: a 5 MiB node oscillating between 0 and
    /// 6 of its shards every few seconds). Fullness instead stops transfers *to*
    /// a peer ([`View::has_room`]); new shards skip full peers ([`View::candidates`]).
    pub fn repair_candidates(&self) -> Vec<Candidate<PeerId>> {
        let mut v = self.candidates_where(|e, now| self.keeps_places(e, now));
        for c in &mut v {
            c.used = 0;
        }
        v
    }

    /// Whether `peer` advertises room for `size` more bytes.
    pub fn has_room(&self, peer: &PeerId, size: u64) -> bool {
        self.lock()
            .get(peer)
            .is_some_and(|e| e.hb.used.saturating_add(size) <= e.hb.capacity)
    }

    fn candidates_in(&self, states: &[PeerState]) -> Vec<Candidate<PeerId>> {
        self.candidates_where(|e, now| states.contains(&self.state_of(e, now)))
    }

    fn candidates_where(&self, keep: impl Fn(&Entry, Instant) -> bool) -> Vec<Candidate<PeerId>> {
        let now = Instant::now();
        let (isolated, seen) = self.snapshot();
        let mut v: Vec<Candidate<PeerId>> = self
            .lock()
            .iter()
            .filter(|(_, e)| keep(e, now))
            .map(|(p, e)| Candidate {
                peer: *p,
                key: peer_key(&p.to_bytes()),
                vkeys: e.vkeys.clone(),
                weight: placement::weight(e.hb.capacity),
                zone: self.placement_zone(p, &e.hb.zone, &seen),
                capacity: e.hb.capacity,
                used: e.hb.used,
                draining: e.hb.draining,
                isolated: isolated.contains(p),
                radius: e.hb.radius,
            })
            .collect();
        // Capacity is the peer's word: no peer weighs more than a few
        // honest ones (see `placement::vkeys`).
        placement::cap_weights(&mut v);
        v.sort_by_key(|c| c.key);
        v
    }

    /// Live remote peers.
    pub fn live_peers(&self) -> Vec<PeerId> {
        self.candidates()
            .into_iter()
            .map(|c| c.peer)
            .filter(|p| *p != self.local)
            .collect()
    }
}
