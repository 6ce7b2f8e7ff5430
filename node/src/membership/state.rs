//! A peer's state from this node's own clock: how long it may stay quiet and
//! still count as live (its window), when it turns suspect and then down (its
//! patience), and when it is forgotten. The rules are in the parent module's
//! docs; here is where the view applies them.

use super::{Entry, PeerState, View, LIVE_PERIODS};
use libp2p::PeerId;
use std::time::{Duration, Instant};

impl View {
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
        peers.retain(|p, e| {
            *p == local || now.saturating_duration_since(e.seen) < limit.max(self.window(e) + after)
        });
        before - peers.len()
    }

    /// How long `e` may be quiet and still count as live.
    pub(super) fn window(&self, e: &Entry) -> Duration {
        let short = self.period * LIVE_PERIODS;
        if e.silent || self.refresh.is_zero() {
            short
        } else {
            self.refresh * 2 + short
        }
    }

    pub(super) fn state_of(&self, e: &Entry, now: Instant) -> PeerState {
        let quiet = now.saturating_duration_since(e.seen);
        let window = self.window(e);
        if e.down || quiet >= self.patience_of(e).max(window) {
            PeerState::Down
        } else if quiet >= window {
            PeerState::Suspect
        } else {
            PeerState::Live
        }
    }

    pub(super) fn is_live(&self, e: &Entry, now: Instant) -> bool {
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
}
