//! Who is heard and where they are placed: admission work on peer ids,
//! peers this node isolated, and the addresses peers were observed at (an
//! open swarm places public peers by observed network prefix, not by the
//! zone they announce).

use super::{View, MAX_VIEW};
use libp2p::PeerId;
use shardnet_protocol::{admission, netzone};
use std::collections::HashMap;

impl View {
    /// Whether placement uses observed prefixes for public peers (an open
    /// swarm) or announced zones only (a private one).
    pub fn with_observed_zones(mut self, on: bool) -> Self {
        self.observed_zones = on;
        self
    }

    /// Records the address `peer` was seen at (a connection of its own).
    /// Returns true when its placement zone changed.
    pub fn observed(&self, peer: PeerId, ip: std::net::IpAddr) -> bool {
        let mut seen = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_VIEW && !seen.contains_key(&peer) {
            // Full: keep the peers of the view, drop the rest.
            let peers = self.lock();
            seen.retain(|p, _| peers.contains_key(p));
            if seen.len() >= MAX_VIEW {
                return false;
            }
        }
        let before = seen.insert(peer, ip);
        self.observed_zones && before.and_then(netzone::prefix) != netzone::prefix(ip)
    }

    /// Whether `addrs` are not what `peer`'s last heartbeat announced (a
    /// peer not in the view announces new ones): only then do they go to
    /// the swarm, not with every heartbeat.
    pub fn announces_new_addrs(&self, peer: &PeerId, addrs: &[String]) -> bool {
        self.lock().get(peer).is_none_or(|e| e.hb.addrs != addrs)
    }

    /// Forgets the addresses `peer` announced, so that its next heartbeat
    /// passes them on again (they could not be queued this time).
    pub fn forget_addrs(&self, peer: &PeerId) {
        if let Some(e) = self.lock().get_mut(peer) {
            e.hb.addrs.clear();
        }
    }

    /// The address `peer` was last observed at.
    pub fn observed_ip(&self, peer: &PeerId) -> Option<std::net::IpAddr> {
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(peer)
            .copied()
    }

    pub(super) fn placement_zone(
        &self,
        peer: &PeerId,
        announced: &str,
        seen: &HashMap<PeerId, std::net::IpAddr>,
    ) -> String {
        if self.observed_zones {
            netzone::placement_zone(seen.get(peer).copied(), announced)
        } else {
            announced.to_string()
        }
    }

    /// Hears only peers whose id carries `difficulty` bits of admission work
    /// (`protocol::admission`): a lighter id never enters the view, so it is
    /// never given a shard, never counted as a copy, never repaired around.
    pub fn with_difficulty(mut self, difficulty: u8) -> Self {
        self.difficulty = difficulty;
        self
    }

    pub fn difficulty(&self) -> u8 {
        self.difficulty
    }

    /// Whether `peer`'s id carries the admission work asked here (counts a
    /// refusal).
    pub fn admits(&self, peer: &PeerId) -> bool {
        if *peer == self.local || admission::admitted(&peer.to_bytes(), self.difficulty) {
            return true;
        }
        self.unadmitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        false
    }

    /// Heartbeats ignored so far for lack of admission work.
    pub fn unadmitted(&self) -> u64 {
        self.unadmitted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Isolates `peer` (or lifts it). Returns whether anything changed.
    pub fn set_isolated(&self, peer: PeerId, isolated: bool) -> bool {
        let mut set = self.isolated.lock().unwrap_or_else(|p| p.into_inner());
        if isolated {
            set.insert(peer)
        } else {
            set.remove(&peer)
        }
    }

    pub fn is_isolated(&self, peer: &PeerId) -> bool {
        self.isolated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(peer)
    }
}
