//! Membership: every node announces itself on `shardnet/membership/1` with a
//! heartbeat (zone, capacity, used, version, addresses, draining) and keeps a
//! [`View`] of the peers it hears. A peer is *live* while its last heartbeat is
//! younger than [`LIVE_PERIODS`] heartbeat periods. Placement reads the view.

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::codec;
use shardnet_protocol::placement::{peer_key, Candidate};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Heartbeat periods without news after which a peer no longer counts as live.
pub const LIVE_PERIODS: u32 = 5;
const MAX_ANNOUNCEMENT_LEN: usize = 16 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub zone: String,
    pub capacity: u64,
    pub used: u64,
    pub version: String,
    pub addrs: Vec<String>,
    pub draining: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Announcement {
    Heartbeat(Heartbeat),
    /// The sender is shutting down.
    Leave,
}

impl Announcement {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode::<_, MAX_ANNOUNCEMENT_LEN>("announcement", self).unwrap_or_default()
    }
    pub fn decode(b: &[u8]) -> Result<Self, codec::CodecError> {
        codec::decode::<_, MAX_ANNOUNCEMENT_LEN>("announcement", b)
    }
}

/// One peer as this node knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    #[serde(flatten)]
    pub heartbeat: Heartbeat,
    /// Seconds since the last heartbeat.
    pub last_seen_secs: f64,
    pub live: bool,
    pub local: bool,
}

struct Entry {
    hb: Heartbeat,
    seen: Instant,
}

pub struct View {
    local: PeerId,
    period: Duration,
    peers: Mutex<HashMap<PeerId, Entry>>,
}

impl View {
    pub fn new(local: PeerId, period: Duration) -> Self {
        View {
            local,
            period,
            peers: Mutex::new(HashMap::new()),
        }
    }

    pub fn local(&self) -> PeerId {
        self.local
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Entry>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn heard(&self, peer: PeerId, hb: Heartbeat) {
        self.lock().insert(
            peer,
            Entry {
                hb,
                seen: Instant::now(),
            },
        );
    }

    pub fn left(&self, peer: &PeerId) {
        self.lock().remove(peer);
    }

    fn is_live(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.seen) < self.period * LIVE_PERIODS
    }

    /// Every known peer, the local node included, sorted by peer id.
    pub fn list(&self) -> Vec<PeerInfo> {
        let now = Instant::now();
        let mut v: Vec<PeerInfo> = self
            .lock()
            .iter()
            .map(|(p, e)| PeerInfo {
                peer_id: p.to_string(),
                heartbeat: e.hb.clone(),
                last_seen_secs: now.duration_since(e.seen).as_secs_f64(),
                live: self.is_live(e, now),
                local: *p == self.local,
            })
            .collect();
        v.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        v
    }

    /// Live peers as placement candidates.
    pub fn candidates(&self) -> Vec<Candidate<PeerId>> {
        let now = Instant::now();
        let mut v: Vec<Candidate<PeerId>> = self
            .lock()
            .iter()
            .filter(|(_, e)| self.is_live(e, now))
            .map(|(p, e)| Candidate {
                peer: *p,
                key: peer_key(&p.to_bytes()),
                zone: e.hb.zone.clone(),
                capacity: e.hb.capacity,
                used: e.hb.used,
                draining: e.hb.draining,
                isolated: false,
            })
            .collect();
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
