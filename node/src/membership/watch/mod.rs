//! This node's own liveness evidence, for change-only membership
//! (`docs/membership.md`): which peers it watches (its ring neighbours,
//! `protocol::ring`), which it should probe now, what a failed probe means,
//! which silences it tells the swarm about, and when it must speak again
//! itself. Another node's report of a silent peer is only a reason to check
//! that peer here; the state changes on this node's own probe alone.

use super::SignedHeartbeat;
use super::{PeerState, View, LIVE_PERIODS};
use libp2p::PeerId;
use shardnet_protocol::awareness::Awareness;
use shardnet_protocol::placement::peer_key;
use shardnet_protocol::ring;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Why a probe is due: logged with the dials probes make, to tell which
/// kind of probe opens connections under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeWhy {
    /// A peer not in the view connected to this node.
    Stranger,
    /// A down peer, tried again (one a period).
    DownRetry,
    /// A watched ring neighbour quiet for two periods (or a tenth of
    /// `down_after`, `View::probe_after`).
    Neighbour,
    /// A peer this node found silent, until it answers or goes down.
    Silent,
    /// A peer another node reported down.
    Check,
}

impl ProbeWhy {
    pub fn name(self) -> &'static str {
        match self {
            ProbeWhy::Stranger => "stranger",
            ProbeWhy::DownRetry => "down_retry",
            ProbeWhy::Neighbour => "neighbour",
            ProbeWhy::Silent => "silent",
            ProbeWhy::Check => "check",
        }
    }
}

/// Strangers (connected peers not in the view) waiting for a probe.
pub(super) const MAX_STRANGERS: usize = 1024;

/// Reports of silent peers this node takes to check per period; more are
/// dropped (hints: the peer's own window still judges it). Every report
/// makes every node that takes it probe the peer, so under load, when
/// probes time out and reports multiply, this bounds what one node adds.
pub(super) const CHECKS_PER_PERIOD: u32 = 8;

/// A down peer is probed again at most once per this many periods (and one
/// down peer per period in all).
pub(super) const DOWN_RETRY_PERIODS: u32 = 10;

impl View {
    /// Peers stay live for two refreshes without news unless this node
    /// found them silent itself (zero: every period).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    /// A watched peer came back: tell the swarm this node is here too (the
    /// peers beyond a healed partition stopped counting it).
    pub(super) fn regained(&self) {
        self.republish.store(true, Ordering::Relaxed);
    }

    /// A peer reported this node silent. Nothing is published in answer:
    /// every node that takes the report probes this node itself, and its
    /// answer is the refutation. (A heartbeat per report, as before, fed the
    /// storm it answered: under load, reports came every second, and each
    /// refutation cost every node in the swarm a signature check per mesh
    /// copy.) Being suspected lowers this node's health score: it may be
    /// the slow one.
    pub fn suspected(&self) {
        self.health().suspected();
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Awareness> {
        self.awareness.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long a probe may wait for its answer: five periods, stretched by
    /// this node's health score (`protocol::awareness`).
    pub fn probe_timeout(&self) -> Duration {
        self.patient(self.period * LIVE_PERIODS)
    }

    /// `base` stretched by this node's health score: how long to wait for
    /// any answer whose lateness would count against the peer (probes,
    /// possession proofs). A node whose own runtime is behind waits longer
    /// rather than blame its peers.
    pub fn patient(&self, base: Duration) -> Duration {
        self.health().scale(base)
    }

    /// This node's probe was answered (it is not the slow one, as far as
    /// this goes).
    pub fn probe_answered(&self) {
        self.health().answered();
    }

    /// This node's own tick came `lag` late: it may be the slow one
    /// (`Awareness::lagged`).
    pub fn lagged(&self, lag: Duration) {
        self.health().lagged(lag, self.period);
    }

    /// This node's health score, 0 (healthy) to `awareness::MAX_SCORE`.
    pub fn health_score(&self) -> u32 {
        self.health().score()
    }

    /// Whether this node must publish its heartbeat although nothing in it
    /// changed; clears the request.
    pub fn take_republish(&self) -> bool {
        self.republish.swap(false, Ordering::Relaxed)
    }

    /// Recomputes the watched set: this node's ring neighbours among the
    /// peers not down. Returns how many it watches.
    pub fn update_watched(&self) -> usize {
        let now = Instant::now();
        let own = peer_key(&self.local.to_bytes());
        let mut peers = self.lock();
        let ring_peers: Vec<(PeerId, [u8; 32])> = peers
            .iter()
            .filter(|(p, e)| **p != self.local && self.state_of(e, now) != PeerState::Down)
            .map(|(p, e)| (*p, e.key))
            .collect();
        let watched: std::collections::HashSet<PeerId> =
            ring::neighbours(&own, &ring_peers, ring::WATCH_EACH_SIDE)
                .into_iter()
                .collect();
        for (p, e) in peers.iter_mut() {
            e.watched = watched.contains(p);
        }
        watched.len()
    }

    /// Watched peers that failed this node's probe since it last heard
    /// them: its own evidence of a silence, told to the swarm once (as
    /// `Down`, a hint that makes every other node check the peer itself).
    /// Time alone tells nothing: a peer that just became a neighbour is
    /// probed before it is judged.
    pub fn newly_silent(&self) -> Vec<PeerId> {
        let mut out = Vec::new();
        for (p, e) in self.lock().iter_mut() {
            if e.watched && e.silent && !e.down && !e.told {
                e.told = true;
                out.push(*p);
            }
        }
        out
    }

    /// Another node reported `peer` silent: check it here (at the next
    /// probe round, at most once a period). Unknown peers are ignored, and
    /// so are reports past [`CHECKS_PER_PERIOD`] this period.
    pub fn want_check(&self, peer: &PeerId) {
        if let Some(e) = self.lock().get_mut(peer) {
            if !e.down && !e.check {
                if self.checks.fetch_add(1, Ordering::Relaxed) >= CHECKS_PER_PERIOD {
                    return;
                }
                e.check = true;
            }
        }
    }

    /// This node's own dial of `peer` failed (for any request, Kademlia's
    /// included): check it with a probe at the next round, outside the
    /// budget for reports, since this is this node's own observation. The
    /// probe's failure is the evidence that puts it on the short window.
    /// With a long refresh this is how a node that does not watch a peer
    /// learns it died: at the first contact that fails.
    pub fn unreachable(&self, peer: &PeerId) {
        if let Some(e) = self.lock().get_mut(peer) {
            if !e.down {
                e.check = true;
            }
        }
    }

    /// `peer`, not in the view, connected to this node: probe it (at most
    /// [`MAX_STRANGERS`] wait; more are dropped, and heard of later by
    /// gossip).
    pub fn want_hello(&self, peer: PeerId) {
        if peer == self.local || !self.admits(&peer) {
            return;
        }
        let mut s = self.strangers.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < MAX_STRANGERS {
            s.insert(peer);
        }
    }

    /// Peers to probe now, at most `max`: strangers that connected, watched
    /// peers quiet for two periods, peers found silent (until they answer or
    /// go down), and peers another node reported; none probed within the
    /// last period.
    #[cfg(test)]
    pub(crate) fn probes_due(&self, max: usize) -> Vec<PeerId> {
        self.probes_due_why(max)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// [`View::probes_due`], each with the reason it is due.
    pub fn probes_due_why(&self, max: usize) -> Vec<(PeerId, ProbeWhy)> {
        let now = Instant::now();
        self.checks.store(0, Ordering::Relaxed);
        let mut out: Vec<(PeerId, ProbeWhy)> = {
            let mut s = self.strangers.lock().unwrap_or_else(|p| p.into_inner());
            let take: Vec<PeerId> = s.iter().take(max).copied().collect();
            for p in &take {
                s.remove(p);
            }
            take.into_iter().map(|p| (p, ProbeWhy::Stranger)).collect()
        };
        let mut peers = self.lock();
        // One down peer a period, the one tried longest ago, if not within
        // `DOWN_RETRY_PERIODS`: nobody watches or probes a down peer
        // otherwise, so after a partition heals the two sides would never
        // dial each other again (no refresh crosses a cut that Kademlia
        // does not redial either).
        let retry = self.period * DOWN_RETRY_PERIODS;
        let stale = |e: &super::Entry| {
            e.probed
                .is_none_or(|t| now.saturating_duration_since(t) >= retry)
        };
        if out.len() < max {
            if let Some((p, e)) = peers
                .iter_mut()
                .filter(|(p, e)| **p != self.local && e.down && stale(e))
                .min_by_key(|(_, e)| e.probed)
            {
                e.probed = Some(now);
                out.push((*p, ProbeWhy::DownRetry));
            }
        }
        for (p, e) in peers.iter_mut() {
            if out.len() >= max {
                break;
            }
            let quiet = now.saturating_duration_since(e.seen);
            let recent = e
                .probed
                .is_some_and(|t| now.saturating_duration_since(t) < self.period);
            let due = (e.watched && quiet >= self.probe_after()) || e.silent || e.check;
            if *p != self.local && !e.down && due && !recent {
                let why = if e.check {
                    ProbeWhy::Check
                } else if e.silent {
                    ProbeWhy::Silent
                } else {
                    ProbeWhy::Neighbour
                };
                e.probed = Some(now);
                e.check = false;
                out.push((*p, why));
            }
        }
        out
    }

    /// How long a watched peer may be quiet before it is probed: two
    /// periods, or a tenth of `down_after` if longer. Finding a death
    /// faster than a tenth of the time repair waits for it buys nothing,
    /// and these probes are most of what membership costs a node that
    /// does not grow with the swarm (16 neighbours every 4 s was 9.7 KiB/s
    /// sent per node with a 1 s period; with the defaults, 2 s and 5
    /// minutes, a neighbour is probed after 30 s).
    pub(super) fn probe_after(&self) -> Duration {
        (self.period * 2).max(self.down_after / 10)
    }

    /// A probe of `peer` timed out: evidence about the peer, and perhaps
    /// about this node (its health score drops, see `protocol::awareness`).
    pub fn probe_timed_out(&self, peer: &PeerId) {
        self.health().timed_out();
        self.probe_failed(peer);
    }

    /// A probe of `peer` got no answer: this node's own evidence. The peer
    /// goes on the short window; its silence is taken to have begun at most
    /// one window ago (the last news of an unwatched peer may be a refresh
    /// old, and that alone is no outage).
    pub fn probe_failed(&self, peer: &PeerId) {
        let now = Instant::now();
        if let Some(e) = self.lock().get_mut(peer) {
            if !e.silent {
                e.silent = true;
                if let Some(t) = now.checked_sub(self.period * LIVE_PERIODS) {
                    e.seen = e.seen.max(t);
                }
            }
        }
    }

    /// Whether `peer` is unknown here or held down: a connection from it
    /// is news worth a probe (a joiner, or a healed partition).
    pub fn wants_hello_from(&self, peer: &PeerId) -> bool {
        self.lock()
            .get(peer)
            .is_none_or(|e| e.down || e.left.is_some())
    }

    /// This node's own signed heartbeat, as last recorded (`Hello` answers
    /// it).
    pub fn own_record(&self) -> Option<SignedHeartbeat> {
        if self.is_leaving() {
            return None;
        }
        self.lock().get(&self.local).and_then(|e| e.record.clone())
    }

    /// The signed records of the live peers, this node included, at most
    /// `max` and about `max_bytes` in all: a joiner's pull (`Members`).
    pub fn member_records(&self, max: usize, max_bytes: usize) -> Vec<SignedHeartbeat> {
        let now = Instant::now();
        let mut bytes = 0;
        let mut out = Vec::new();
        for e in self.lock().values() {
            if out.len() >= max || bytes >= max_bytes {
                break;
            }
            if let Some(r) = e.record.as_ref().filter(|_| self.is_live(e, now)) {
                bytes += r.approx_len();
                out.push(r.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
