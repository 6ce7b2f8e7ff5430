//! Membership: every node announces itself on `shardnet/membership/2` with a
//! heartbeat (zone, capacity, used, version, addresses, draining) and keeps a
//! [`View`] of the peers it hears.
//!
//! States: a peer is *live* while heard (heartbeat or successful ping) within
//! [`LIVE_PERIODS`] heartbeat periods; then *suspect* until its patience has
//! passed without news; then *down*. New shards go to live peers only. Repair
//! keeps a suspect peer in its place (a home server restarting must not cause
//! mass re-replication) but sends it nothing; a down peer is dropped from every
//! responsible set and its shards are repaired elsewhere. A node that sees a
//! peer go down announces it, so views converge.
//!
//! Patience (`protocol::patience`, kept in [`silence`]) is `down_after` for a
//! peer without history, more for a peer that always came back, the ceiling
//! for the peers of a zone that fell silent together (a partition); repair
//! gives a suspect holder's place away after `down_after` anyway when the
//! shard is below its floor of proven copies.

mod silence;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::patience::Outages;
use shardnet_protocol::placement::{self, peer_key, Candidate, VirtualKeys};
use shardnet_protocol::{admission, netzone};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most peers a view holds (a swarm of volunteers: tens of thousands).
pub const MAX_VIEW: usize = 50_000;
/// Heartbeat periods without news after which a peer no longer counts as live.
pub const LIVE_PERIODS: u32 = 5;
pub use shardnet_protocol::gossip::{
    Announcement, Heartbeat, MAX_HEARTBEAT_ADDRS, MAX_HEARTBEAT_FIELD,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerState {
    Live,
    Suspect,
    Down,
}

/// One peer as this node knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    #[serde(flatten)]
    pub heartbeat: Heartbeat,
    /// Seconds since the last heartbeat or ping.
    pub last_seen_secs: f64,
    pub live: bool,
    pub state: PeerState,
    pub local: bool,
    /// Isolated by this node (audit evidence or the operator).
    #[serde(default)]
    pub isolated: bool,
    /// The address this node saw the peer at, if connected at some time.
    #[serde(default)]
    pub observed: Option<std::net::IpAddr>,
    /// The zone placement uses: the observed network prefix of a public
    /// peer in an open swarm, else the announced zone.
    #[serde(default)]
    pub placement_zone: String,
}

struct Entry {
    hb: Heartbeat,
    seen: Instant,
    /// Declared down (by this node's clock or a peer's announcement).
    down: bool,
    /// Outages this node saw the peer come back from.
    outages: Outages,
    /// The peer's virtual placement keys (derived once per entry).
    vkeys: VirtualKeys,
}

pub struct View {
    local: PeerId,
    period: Duration,
    down_after: Duration,
    /// The most patience a peer earns, and a partitioned zone's peers get.
    patience_max: Duration,
    /// Announced zones most of whose peers fell silent together.
    partitioned: Mutex<std::collections::HashSet<String>>,
    peers: Mutex<HashMap<PeerId, Entry>>,
    /// Peers this node isolated (from audit evidence or by the operator):
    /// placement skips them and their copies count for nothing.
    isolated: Mutex<std::collections::HashSet<PeerId>>,
    /// Bits of admission work a peer id needs to be heard at all.
    difficulty: u8,
    /// Heartbeats ignored because their sender's id lacks that work.
    unadmitted: std::sync::atomic::AtomicU64,
    /// Where each peer was last observed (`protocol::netzone`); at most
    /// `MAX_VIEW` entries.
    observed: Mutex<HashMap<PeerId, std::net::IpAddr>>,
    /// Open swarm: public peers are placed by observed prefix, not by the
    /// zone they announce. Off in a private swarm (operator-assigned zones).
    observed_zones: bool,
}

impl View {
    pub fn new(local: PeerId, period: Duration, down_after: Duration) -> Self {
        View {
            local,
            period,
            down_after,
            patience_max: down_after,
            partitioned: Mutex::new(std::collections::HashSet::new()),
            peers: Mutex::new(HashMap::new()),
            isolated: Mutex::new(std::collections::HashSet::new()),
            difficulty: 0,
            unadmitted: std::sync::atomic::AtomicU64::new(0),
            observed: Mutex::new(HashMap::new()),
            observed_zones: true,
        }
    }

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

    /// The address `peer` was last observed at.
    pub fn observed_ip(&self, peer: &PeerId) -> Option<std::net::IpAddr> {
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(peer)
            .copied()
    }

    fn placement_zone(
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

    pub fn local(&self) -> PeerId {
        self.local
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Entry>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a heartbeat. Returns true if placement may have changed: the
    /// peer was not live before (it joined or came back), or its zone or
    /// draining flag changed.
    pub fn heard(&self, peer: PeerId, hb: Heartbeat) -> bool {
        if !self.admits(&peer) {
            return false;
        }
        let now = Instant::now();
        let mut peers = self.lock();
        if peers.len() >= MAX_VIEW && !peers.contains_key(&peer) {
            // Full: a newcomer takes the place of the longest-silent down
            // peer, or waits until one goes.
            let oldest = peers
                .iter()
                .filter(|(_, e)| self.state_of(e, now) == PeerState::Down)
                .min_by_key(|(_, e)| e.seen)
                .map(|(p, _)| *p);
            match oldest {
                Some(p) => {
                    peers.remove(&p);
                }
                None => return false,
            }
        }
        let changed = match peers.get(&peer) {
            None => true,
            Some(e) => {
                self.state_of(e, now) != PeerState::Live
                    || e.hb.draining != hb.draining
                    || e.hb.zone != hb.zone
                    || e.hb.radius != hb.radius
                    || e.hb.capacity != hb.capacity
            }
        };
        let vkeys = peers
            .get(&peer)
            .map(|e| e.vkeys.clone())
            .unwrap_or_else(|| VirtualKeys::of(&peer_key(&peer.to_bytes())));
        let outages = peers
            .get(&peer)
            .map(|e| self.returned(e, now))
            .unwrap_or_default();
        peers.insert(
            peer,
            Entry {
                hb,
                seen: now,
                down: false,
                outages,
                vkeys,
            },
        );
        changed
    }

    /// A successful direct ping keeps a known peer live.
    pub fn pinged(&self, peer: &PeerId) {
        if let Some(e) = self.lock().get_mut(peer) {
            if !e.down {
                e.seen = Instant::now();
            }
        }
    }

    /// The peer announced it is stopping: it is suspect at once (no new shards
    /// go to it), but down only after its patience like any silent peer, so a
    /// restart causes no repair traffic.
    pub fn left(&self, peer: &PeerId) {
        let quiet = self.period * LIVE_PERIODS;
        if let Some(e) = self.lock().get_mut(peer) {
            if let Some(t) = Instant::now().checked_sub(quiet) {
                e.seen = e.seen.min(t);
            }
        }
    }

    /// Forgets peers silent for the longest patience plus `after` (their
    /// shards were repaired long ago); returns how many. Peer ids are free,
    /// so without this every id ever heard would stay in the view for good.
    pub fn evict(&self, after: Duration) -> usize {
        let now = Instant::now();
        // `with_patience_max` keeps the ceiling at or above `down_after`.
        let limit = self.patience_max + after;
        let local = self.local;
        let mut peers = self.lock();
        let before = peers.len();
        peers.retain(|p, e| *p == local || now.duration_since(e.seen) < limit);
        before - peers.len()
    }

    fn state_of(&self, e: &Entry, now: Instant) -> PeerState {
        let quiet = now.duration_since(e.seen);
        if e.down || quiet >= self.patience_of(e) {
            PeerState::Down
        } else if quiet >= self.period * LIVE_PERIODS {
            PeerState::Suspect
        } else {
            PeerState::Live
        }
    }

    fn is_live(&self, e: &Entry, now: Instant) -> bool {
        self.state_of(e, now) == PeerState::Live
    }

    /// Peers that crossed into down since the last call (marked, to announce
    /// once). Partitions are judged afresh first.
    pub fn newly_down(&self) -> Vec<PeerId> {
        self.judge_partitions();
        let now = Instant::now();
        let mut out = Vec::new();
        let local = self.local;
        for (p, e) in self.lock().iter_mut() {
            if *p != local && !e.down && self.state_of(e, now) == PeerState::Down {
                e.down = true;
                out.push(*p);
            }
        }
        out
    }

    pub fn state(&self, peer: &PeerId) -> Option<PeerState> {
        let now = Instant::now();
        self.lock().get(peer).map(|e| self.state_of(e, now))
    }

    pub fn is_reachable(&self, peer: &PeerId) -> bool {
        self.state(peer) == Some(PeerState::Live)
    }

    /// The isolated peers and the observed addresses, copied out of their
    /// locks.
    fn snapshot(
        &self,
    ) -> (
        std::collections::HashSet<PeerId>,
        HashMap<PeerId, std::net::IpAddr>,
    ) {
        let isolated = self
            .isolated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let seen = self
            .observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (isolated, seen)
    }

    /// Every known peer, the local node included, sorted by peer id.
    pub fn list(&self) -> Vec<PeerInfo> {
        let now = Instant::now();
        let (isolated, seen) = self.snapshot();
        let mut v: Vec<PeerInfo> = self
            .lock()
            .iter()
            .map(|(p, e)| PeerInfo {
                peer_id: p.to_string(),
                heartbeat: e.hb.clone(),
                last_seen_secs: now.duration_since(e.seen).as_secs_f64(),
                live: self.is_live(e, now),
                state: self.state_of(e, now),
                local: *p == self.local,
                isolated: isolated.contains(p),
                observed: seen.get(p).copied(),
                placement_zone: self.placement_zone(p, &e.hb.zone, &seen),
            })
            .collect();
        v.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        v
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn hb() -> Heartbeat {
        hb_in("z")
    }

    /// A heartbeat from `zone`.
    pub(super) fn hb_in(zone: &str) -> Heartbeat {
        Heartbeat {
            zone: zone.into(),
            capacity: 1,
            used: 0,
            version: "0".into(),
            addrs: vec![],
            draining: false,
            radius: None,
        }
    }

    #[test]
    fn silent_peers_go_suspect_then_down_then_are_forgotten() {
        let v = View::new(
            PeerId::random(),
            Duration::from_millis(5),
            Duration::from_millis(60),
        );
        let p = PeerId::random();
        assert!(v.heard(p, hb()));
        assert_eq!(v.state(&p), Some(PeerState::Live));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(v.state(&p), Some(PeerState::Suspect));
        assert_eq!(v.evict(Duration::from_millis(50)), 0);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(v.state(&p), Some(PeerState::Down));
        assert_eq!(v.newly_down(), vec![p]);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(v.evict(Duration::from_millis(50)), 1);
        assert_eq!(v.state(&p), None);
    }

    #[test]
    fn heartbeats_over_the_bounds_are_refused() {
        let mut h = hb();
        h.addrs = vec!["/ip4/10.0.0.1/tcp/1".into(); MAX_HEARTBEAT_ADDRS + 1];
        assert!(h.check().unwrap_err().contains("addresses"));
        let mut h = hb();
        h.zone = "z".repeat(MAX_HEARTBEAT_FIELD + 1);
        assert!(h.check().is_err());
        assert!(hb().check().is_ok());
    }

    proptest::proptest! {
        /// Gossip from anyone: decoding and checking garbage never panics.
        #[test]
        fn gossip_garbage_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            if let Ok(Announcement::Heartbeat(h)) = Announcement::decode(&data) {
                let _ = h.check();
            }
        }
    }

    #[test]
    fn peers_without_admission_work_are_not_heard() {
        let local = PeerId::random();
        let v =
            View::new(local, Duration::from_secs(1), Duration::from_secs(60)).with_difficulty(8);
        let (mut light, mut heavy) = (Vec::new(), Vec::new());
        while light.len() < 5 || heavy.len() < 5 {
            let p = PeerId::random();
            if admission::admitted(&p.to_bytes(), 8) {
                heavy.push(p);
            } else {
                light.push(p);
            }
        }
        for p in light.iter().chain(&heavy) {
            v.heard(*p, hb());
        }
        let known: Vec<PeerId> = v.candidates().into_iter().map(|c| c.peer).collect();
        assert!(heavy.iter().all(|p| known.contains(p)));
        assert!(light.iter().all(|p| !known.contains(p)));
        assert_eq!(v.unadmitted(), light.len() as u64);
        // The node's own id is always heard, whatever its work.
        v.heard(local, hb());
        assert!(v.state(&local).is_some());
    }

    #[test]
    fn public_peers_are_placed_by_observed_prefix_in_an_open_swarm() {
        let local = PeerId::random();
        let (a, b, lan) = (PeerId::random(), PeerId::random(), PeerId::random());
        for open in [true, false] {
            let v = View::new(local, Duration::from_secs(1), Duration::from_secs(60))
                .with_observed_zones(open);
            for (p, zone) in [(a, "fresh-1"), (b, "fresh-2"), (lan, "rack-3")] {
                let mut h = hb();
                h.zone = zone.into();
                v.heard(p, h);
            }
            assert_eq!(v.observed(a, "8.8.8.1".parse().unwrap()), open);
            v.observed(b, "8.8.8.200".parse().unwrap());
            v.observed(lan, "10.0.0.7".parse().unwrap());
            let zone = |p: PeerId| {
                v.candidates()
                    .into_iter()
                    .find(|c| c.peer == p)
                    .unwrap()
                    .zone
            };
            if open {
                // Two ids from one /24 are one zone, whatever they announce.
                assert_eq!(zone(a), "net:8.8.8.0/24");
                assert_eq!(zone(b), "net:8.8.8.0/24");
            } else {
                assert_eq!((zone(a).as_str(), zone(b).as_str()), ("fresh-1", "fresh-2"));
            }
            assert_eq!(zone(lan), "rack-3");
            assert_eq!(v.observed_ip(&lan), Some("10.0.0.7".parse().unwrap()));
        }
    }
}
