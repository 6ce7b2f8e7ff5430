//! Patience with silent peers (`protocol::patience`) as this node applies
//! it: each peer's history of outages it came back from, as this node saw
//! them (its own clock, never the peer's word or another peer's report);
//! the zones most of whose peers fell silent together (partitions); and how
//! long a suspect peer has been silent, for repair's per-shard floor.
//!
//! Zones here are the announced ones. A peer lying about its zone can at
//! most make its own zone look partitioned, which buys its copies patience
//! only while every shard keeps its floor of proven copies elsewhere.

use super::{Entry, PeerState, View};
use libp2p::PeerId;
use shardnet_protocol::patience::{self, Outages, Wait};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

impl View {
    /// The most patience a peer may earn, and a partitioned zone's peers
    /// get (never below `down_after`).
    pub fn with_patience_max(mut self, max: Duration) -> Self {
        self.patience_max = max.max(self.down_after);
        self
    }

    /// Patience for a peer without history, and for any holder of a shard
    /// below its floor.
    pub fn down_after(&self) -> Duration {
        self.down_after
    }

    fn partitioned_zones(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.partitioned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `e` may be silent before it is down.
    pub(super) fn patience_of(&self, e: &Entry) -> Duration {
        if self.partitioned_zones().contains(&e.hb.zone) {
            return self.patience_max;
        }
        patience::patience(&e.outages, self.down_after, self.patience_max)
    }

    /// `e`'s history once it is heard again at `now`: a silence long enough
    /// to have made it suspect counts as an outage it came back from.
    pub(super) fn returned(&self, e: &Entry, now: Instant) -> Outages {
        let mut outages = e.outages.clone();
        let quiet = now.saturating_duration_since(e.seen);
        if quiet >= self.window(e) {
            outages.record(quiet);
        }
        outages
    }

    /// Judges afresh which zones are partitioned: most of a zone's peers
    /// (not yet down) silent past the live window at once.
    pub(super) fn judge_partitions(&self) {
        let now = Instant::now();
        let peers = self.lock();
        let mut zones: HashMap<&str, (usize, usize)> = HashMap::new();
        for (p, e) in peers.iter() {
            let quiet = now.saturating_duration_since(e.seen);
            if *p == self.local || e.down || !self.keeps_places(e, now) {
                continue;
            }
            let z = zones.entry(e.hb.zone.as_str()).or_default();
            z.0 += 1;
            z.1 += usize::from(quiet >= self.window(e));
        }
        let cut: HashSet<String> = zones
            .into_iter()
            .filter(|(_, (n, silent))| patience::partitioned(*n, *silent))
            .map(|(z, _)| z.to_string())
            .collect();
        let mut set = self.partitioned_zones();
        if *set != cut {
            tracing::info!(zones = ?cut, "partitioned zones (their peers get the longest patience)");
            *set = cut;
        }
    }

    /// For a silent peer that may still keep places in responsible sets
    /// (suspect, or down for less than the ceiling): how long it has been
    /// silent, and how long it may wait (`protocol::patience::Wait`).
    pub fn silence(&self, peer: &PeerId) -> Option<(Duration, Wait)> {
        let now = Instant::now();
        let peers = self.lock();
        let e = peers.get(peer)?;
        (self.state_of(e, now) != PeerState::Live && self.keeps_places(e, now)).then(|| {
            let wait = Wait {
                base: self.down_after,
                patience: self.patience_of(e),
                ceiling: self.patience_max,
            };
            (now.saturating_duration_since(e.seen), wait)
        })
    }

    /// Whether `e` is in the responsible sets repair works towards: live,
    /// suspect, or down for less than the ceiling (each shard then decides
    /// whether its place is kept: `protocol::patience::Wait::limit`).
    pub(super) fn keeps_places(&self, e: &Entry, now: Instant) -> bool {
        // An unwatched peer's last news may be a refresh old, and that is
        // no silence: its window counts too.
        now.saturating_duration_since(e.seen) < self.patience_max.max(self.window(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::tests::hb_in as hb;

    const BASE: Duration = Duration::from_secs(10);

    fn view() -> View {
        View::new(PeerId::random(), Duration::from_millis(100), BASE)
            .with_patience_max(Duration::from_secs(3600))
    }

    /// Makes `peer` silent for `for_` (its last news that long ago).
    fn silence(v: &View, peer: &PeerId, for_: Duration) {
        let mut peers = v.lock();
        let e = peers.get_mut(peer).unwrap();
        e.seen = Instant::now().checked_sub(for_).unwrap();
    }

    #[test]
    fn a_peer_that_always_came_back_gets_more_patience() {
        let v = view();
        let p = PeerId::random();
        v.heard(p, hb("a"));
        silence(&v, &p, Duration::from_secs(30));
        assert_eq!(v.state(&p), Some(PeerState::Down), "no history: down_after");
        for _ in 0..2 {
            silence(&v, &p, Duration::from_secs(40));
            v.heard(p, hb("a"));
        }
        // Came back twice after 40 s: one and a half times that.
        silence(&v, &p, Duration::from_secs(50));
        assert_eq!(v.state(&p), Some(PeerState::Suspect));
        let (silent, wait) = v.silence(&p).unwrap();
        assert!(silent >= Duration::from_secs(50));
        assert!(wait.patience >= Duration::from_secs(60));
        assert!(wait.patience < Duration::from_secs(61));
        assert_eq!((wait.base, wait.ceiling), (BASE, Duration::from_secs(3600)));
        silence(&v, &p, Duration::from_secs(61));
        assert_eq!(v.state(&p), Some(PeerState::Down));
        assert!(v.silence(&p).is_some(), "down, but within the ceiling");
        assert!(v.repair_candidates().iter().any(|c| c.peer == p));
        silence(&v, &p, Duration::from_secs(3600));
        assert_eq!(v.silence(&p), None, "past the ceiling: no place anywhere");
        assert!(!v.repair_candidates().iter().any(|c| c.peer == p));
        v.heard(p, hb("a"));
        assert_eq!(v.silence(&p), None, "live peers have no silence");
    }

    #[test]
    fn a_zone_silent_at_once_is_a_partition_and_waits_longest() {
        let v = view();
        let zone_a: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
        let lone = PeerId::random();
        for p in &zone_a {
            v.heard(*p, hb("a"));
        }
        v.heard(lone, hb("b"));
        for p in &zone_a[..3] {
            silence(&v, p, Duration::from_secs(20));
        }
        silence(&v, &lone, Duration::from_secs(20));
        v.judge_partitions();
        for p in &zone_a[..3] {
            assert_eq!(
                v.state(p),
                Some(PeerState::Suspect),
                "partitioned: patience"
            );
        }
        assert_eq!(v.state(&zone_a[3]), Some(PeerState::Live));
        assert_eq!(
            v.state(&lone),
            Some(PeerState::Down),
            "one silent peer is an outage"
        );
        // The zone comes back: no partition any more, and each peer's history
        // holds the 20 s outage (one outage is no history yet).
        for p in &zone_a[..3] {
            v.heard(*p, hb("a"));
        }
        v.judge_partitions();
        assert!(v.partitioned_zones().is_empty());
        silence(&v, &zone_a[0], Duration::from_secs(11));
        assert_eq!(v.state(&zone_a[0]), Some(PeerState::Down));
    }
}
