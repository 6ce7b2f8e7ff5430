//! Membership: every node announces itself on `shardnet/membership/3` with a
//! heartbeat (zone, capacity, used, version, addresses, draining) and keeps a
//! [`View`] of the peers it hears.
//!
//! Heartbeats travel only when they change, or when a slow refresh is due
//! (`docs/membership.md`): liveness comes from this node's own evidence. It
//! probes its ring neighbours (`protocol::ring`) directly, a peer that
//! answered a probe, a ping or a heartbeat lately is live, and a suspicion
//! another node spreads only makes this node check the peer itself ([`watch`]).
//!
//! States: a peer is *live* while heard within its window: [`LIVE_PERIODS`]
//! heartbeat periods for a peer this node found silent itself (a failed
//! probe, or its own `Leave`), two refreshes for the rest (nobody has shown
//! trouble, and the peer speaks at least once a refresh; a watched peer is
//! probed after two quiet periods, so its death shows within a probe's
//! timeout). Time alone never shortens a window: a peer that just became a
//! ring neighbour was last heard at its refresh, and judging it on the short
//! window made every newly watched peer "silent" at once (a storm of false
//! reports and rejoins while 100 nodes started). Then *suspect* until its patience has
//! passed without news; then *down*. New shards go to live peers only. Repair
//! keeps a suspect peer in its place (a home server restarting must not cause
//! mass re-replication) but sends it nothing; a down peer is dropped from every
//! responsible set and its shards are repaired elsewhere.
//!
//! Patience (`protocol::patience`, kept in [`silence`]) is `down_after` for a
//! peer without history, more for a peer that always came back, the ceiling
//! for the peers of a zone that fell silent together (a partition); repair
//! gives a suspect holder's place away after `down_after` anyway when the
//! shard is below its floor of proven copies.

mod admission;
mod candidates;
mod counts;
mod reconcile;
mod silence;
mod state;
mod watch;

pub use watch::ProbeWhy;

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
    Announcement, Heartbeat, SignedHeartbeat, MAX_HEARTBEAT_ADDRS, MAX_HEARTBEAT_FIELD,
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
    /// The peer's placement key (`placement::peer_key`): its ring position.
    key: shardnet_protocol::placement::Key,
    /// A ring neighbour of this node: probed directly when quiet.
    watched: bool,
    /// This node's own evidence says the peer went silent (a probe failed,
    /// or it announced it is leaving): the short window applies until it is
    /// heard again.
    silent: bool,
    /// This node spread its suspicion of the peer (once per silence).
    told: bool,
    /// A check (a direct probe) is wanted: another node reported the peer.
    check: bool,
    /// When this node last probed the peer.
    probed: Option<Instant>,
    /// The peer's latest heartbeat signed by itself, handed to joiners.
    record: Option<SignedHeartbeat>,
    /// The peer announced it is stopping, when its latest record was
    /// issued at this time: answers and older records do not make it live
    /// again, only a record it signed later (it restarted).
    left: Option<u64>,
}

impl Entry {
    fn new(hb: Heartbeat, seen: Instant, outages: Outages, key: [u8; 32]) -> Self {
        Entry {
            hb,
            seen,
            down: false,
            outages,
            vkeys: VirtualKeys::of(&key),
            key,
            watched: false,
            silent: false,
            told: false,
            check: false,
            probed: None,
            record: None,
            left: None,
        }
    }
}

pub struct View {
    local: PeerId,
    period: Duration,
    /// Longest a live peer stays quiet: it republishes its heartbeat at
    /// least this often. Zero: every period (every peer on the short window).
    refresh: Duration,
    /// Publish this node's heartbeat at the next tick although it did not
    /// change: a watched peer came back (a partition healed: the other side
    /// must hear this node again), or a peer reported this node silent.
    republish: std::sync::atomic::AtomicBool,
    /// This node announced it is stopping: it signs no new record and
    /// answers probes with `Busy`, so its leave is not undone by its own
    /// answers while it shuts down.
    leaving: std::sync::atomic::AtomicBool,
    /// This node's own health (`protocol::awareness`): stretches its probe
    /// timeouts while its probes keep timing out.
    awareness: Mutex<shardnet_protocol::awareness::Awareness>,
    /// Reports of silent peers taken to check this period
    /// (`watch::CHECKS_PER_PERIOD`).
    checks: std::sync::atomic::AtomicU32,
    /// Connected peers not in the view, to probe (`watch::MAX_STRANGERS`).
    strangers: Mutex<std::collections::HashSet<PeerId>>,
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
            refresh: Duration::ZERO,
            republish: std::sync::atomic::AtomicBool::new(false),
            leaving: std::sync::atomic::AtomicBool::new(false),
            awareness: Mutex::new(Default::default()),
            checks: std::sync::atomic::AtomicU32::new(0),
            strangers: Mutex::new(std::collections::HashSet::new()),
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
        self.heard_at(peer, hb, None, Instant::now())
    }

    /// Records `peer`'s own signed heartbeat (already verified as its),
    /// as news of the peer from `seen`: now for gossip and direct answers,
    /// the record's age ago for a record another node handed on. Older news
    /// than this node has changes nothing.
    pub fn heard_record(&self, peer: PeerId, rec: SignedHeartbeat, seen: Instant) -> bool {
        let newer = self.lock().get(&peer).is_none_or(|e| match e.left {
            Some(at) => at < rec.issued_at,
            None => {
                e.seen < seen
                    || e.record
                        .as_ref()
                        .is_none_or(|r| r.issued_at < rec.issued_at)
            }
        });
        newer && self.heard_at(peer, rec.hb.clone(), Some(rec), seen)
    }

    fn heard_at(
        &self,
        peer: PeerId,
        hb: Heartbeat,
        record: Option<SignedHeartbeat>,
        seen: Instant,
    ) -> bool {
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
        let outages = peers
            .get(&peer)
            .map(|e| self.returned(e, seen))
            .unwrap_or_default();
        if peers
            .get(&peer)
            .is_some_and(|e| e.watched && !self.is_live(e, now))
        {
            self.regained();
        }
        let e = peers.entry(peer).or_insert_with(|| {
            Entry::new(
                hb.clone(),
                seen,
                outages.clone(),
                peer_key(&peer.to_bytes()),
            )
        });
        if record.is_none() && e.left.is_some() {
            // An unsigned word of a peer that left revives nothing.
            return false;
        }
        e.left = None;
        if seen >= e.seen {
            (e.seen, e.down, e.outages) = (seen, false, outages);
            (e.silent, e.told, e.check) = (false, false, false);
        }
        e.hb = hb;
        if record.is_some() {
            e.record = record;
        }
        changed
    }

    /// A successful direct ping (or any answer) keeps a known peer live.
    pub fn pinged(&self, peer: &PeerId) {
        let now = Instant::now();
        let mut peers = self.lock();
        if let Some(e) = peers.get_mut(peer) {
            // A peer that announced it is stopping may still answer while
            // it shuts down: that is not news that it stays.
            if !e.down && e.left.is_none() {
                if e.watched && !self.is_live(e, now) {
                    self.regained();
                }
                e.outages = self.returned(e, now);
                e.seen = now;
                (e.silent, e.told, e.check) = (false, false, false);
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
            // Its own word, signed: the short window applies.
            e.silent = true;
            e.left = Some(e.record.as_ref().map_or(0, |r| r.issued_at));
        }
    }

    /// This node is stopping: it has announced its leave, so it signs no
    /// new record and answers probes with `Busy` from now on.
    pub fn leave(&self) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this node announced that it is stopping.
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(std::sync::atomic::Ordering::Relaxed)
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
