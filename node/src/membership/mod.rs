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

mod admission;
mod candidates;
mod silence;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::patience::Outages;
use shardnet_protocol::placement::{peer_key, VirtualKeys};
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
}

#[cfg(test)]
mod tests;
