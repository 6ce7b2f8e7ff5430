//! Audits: what this node knows about the copies its peers hold, and what it
//! thinks of those peers.
//!
//! Every possession proof this node checks (`prove`) updates two things:
//! - the **proof cache**, per (peer, shard): when the copy last passed, last
//!   failed, and since when it has passed without a break. Repair counts a
//!   copy only while its last proof is fresh (within the audit interval);
//!   removals and purges need a proof from the same scan.
//! - the **evidence log and reputation** of the peer (one event per audit
//!   round, persisted in the store): the score decides whether the peer is
//!   vetting, good, warned or isolated (`protocol::reputation`). Isolation is
//!   pushed into the membership view, so placement skips the peer and its
//!   copies stop counting at once.
//!
//! A copy is due again after [`Audits::audit_ttl`]: soon after it arrived,
//! then less and less often, up to the audit interval.
//!
//! How fast a liar is isolated, with the default policy: one that fails every
//! proof after 6 audit rounds; one that answers every proof `Busy` (never
//! wrong, never proven) after 30 ([`BUSY_ROUNDS`] busy rounds make one
//! timed-out audit, worth half a failure). One that never answers is
//! isolated after 10 rounds, or 30 while this node lags (its timeouts then
//! count as busy rounds, `prove::timed_out`). Their copies count for nothing
//! from the first round on, since only a proven copy counts.
//!
//! Passes are recorded only from audits of stored copies; a proof right after
//! a store proves receipt, not storage, so at backup time only failures
//! (false acks) become evidence.

mod prove;

pub use prove::{challenge, expected_for_peers, nonce, receipt, Expected, Round};

use crate::membership::View;
use libp2p::PeerId;
use shardnet_protocol::reputation::{Evidence, Policy, Reputation, Standing};
use shardnet_protocol::ShardId;
use shardnet_store::{EvidenceRecord, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

mod stats;

pub use stats::*;

/// Most (peer, shard) proof states kept in memory; beyond it the oldest go
/// (they are proved again when next needed).
const MAX_CACHE: usize = 1 << 20;

pub struct Audits {
    pub policy: Policy,
    pub interval: Duration,
    store: Arc<Store>,
    view: Arc<View>,
    cache: Mutex<HashMap<(PeerId, ShardId), ProofState>>,
    reps: Mutex<HashMap<PeerId, Reputation>>,
    /// Rounds in a row each peer answered `Busy`.
    busy: Mutex<HashMap<PeerId, u32>>,
    /// Trusted by the operator from the start (`--trust-peer`).
    anchors: std::collections::HashSet<PeerId>,
    pub stats: AuditStats,
}

impl Audits {
    /// How long a peer has to prove `bytes` of shards: the protocol's
    /// deadline, stretched by this node's health score. Under load this
    /// node's own answers come late; without the stretch, a live 200-node
    /// run on two saturated cores gave 2,160 warnings and 961 isolations
    /// to honest peers for timed-out proofs (`docs/membership.md`).
    pub fn deadline(&self, bytes: u64) -> Duration {
        self.view.patient(shardnet_protocol::proof::deadline(bytes))
    }

    /// Whether this node's own runtime lags (health score above zero): its
    /// timeouts then measure its own queue as much as its peers.
    pub fn lagging(&self) -> bool {
        self.view.health_score() > 0
    }

    /// Loads the reputations kept in the store and isolates whoever was
    /// isolated before the restart.
    pub fn load(store: Arc<Store>, view: Arc<View>, policy: Policy, interval: Duration) -> Self {
        let mut reps = HashMap::new();
        match store.reputations() {
            Ok(list) => {
                for (bytes, rep) in list {
                    if let Ok(p) = PeerId::from_bytes(&bytes) {
                        reps.insert(p, rep);
                    }
                }
            }
            Err(e) => warn!("cannot read peer reputations: {e}"),
        }
        for (p, r) in &reps {
            view.set_isolated(*p, r.standing(&policy) == Standing::Isolated);
        }
        Audits {
            policy,
            interval,
            store,
            view,
            cache: Mutex::new(HashMap::new()),
            reps: Mutex::new(reps),
            busy: Mutex::new(HashMap::new()),
            anchors: Default::default(),
            stats: AuditStats::default(),
        }
    }

    /// Peers the operator trusts from the start: they need no vetting (but
    /// failed proofs still isolate them).
    pub fn with_anchors(mut self, anchors: impl IntoIterator<Item = PeerId>) -> Self {
        self.anchors = anchors.into_iter().collect();
        self
    }

    fn reps(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Reputation>> {
        self.reps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(PeerId, ShardId), ProofState>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn reputation(&self, peer: &PeerId) -> Reputation {
        self.reps().get(peer).copied().unwrap_or_default()
    }

    pub fn standing(&self, peer: &PeerId) -> Standing {
        self.reputation(peer).standing(&self.policy)
    }

    /// Whether `peer`'s proven copies may justify removing another copy.
    pub fn trusted(&self, peer: &PeerId) -> bool {
        let rep = self.reputation(peer);
        rep.trusted(&self.policy)
            || (self.anchors.contains(peer) && rep.standing(&self.policy) != Standing::Isolated)
    }

    /// Whether the operator named `peer` with `--trust-peer` (and it is not
    /// isolated since): trust that no peer can earn by behaving for a while.
    pub fn anchored(&self, peer: &PeerId) -> bool {
        self.anchors.contains(peer) && !self.isolated(peer)
    }

    pub fn isolated(&self, peer: &PeerId) -> bool {
        self.standing(peer) == Standing::Isolated
    }

    /// Adds one event to `peer`'s evidence and score.
    pub fn record(&self, peer: PeerId, ev: Evidence, shard: Option<ShardId>, detail: String) {
        let at = crate::output::now_unix();
        let (before, after, rep) = {
            let mut reps = self.reps();
            let rep = reps.entry(peer).or_default();
            let before = rep.standing(&self.policy);
            rep.record(ev, at);
            (before, rep.standing(&self.policy), *rep)
        };
        let rec = EvidenceRecord {
            at,
            evidence: ev,
            shard,
            detail,
        };
        if let Err(e) = self.store.record_evidence(&peer.to_bytes(), &rec, &rep) {
            warn!(%peer, "cannot record evidence: {e}");
        }
        if before != after {
            match after {
                Standing::Isolated => {
                    warn!(%peer, score = rep.score(), "peer isolated: {}", ev.name())
                }
                Standing::Warned => warn!(%peer, score = rep.score(), "peer warned: {}", ev.name()),
                _ => {
                    info!(%peer, score = rep.score(), standing = after.name(), "peer standing changed")
                }
            }
            self.view.set_isolated(peer, after == Standing::Isolated);
        }
    }

    /// The operator isolates (or releases) a peer by hand.
    pub fn set_manual(&self, peer: PeerId, isolated: bool, reason: &str) -> Result<(), String> {
        let rep = self
            .store
            .set_manual_isolation(&peer.to_bytes(), &peer.to_string(), isolated, reason)
            .map_err(|e| e.to_string())?;
        let mut reps = self.reps();
        let r = reps.entry(peer).or_default();
        r.manual_isolation = rep.manual_isolation;
        self.view
            .set_isolated(peer, r.standing(&self.policy) == Standing::Isolated);
        Ok(())
    }

    pub fn proof_state(&self, peer: &PeerId, shard: &ShardId) -> Option<ProofState> {
        self.cache().get(&(*peer, *shard)).copied()
    }

    /// Whether the copy was checked within `ttl` (spread by a per-pair jitter
    /// of ±25%, so that proofs made in one scan do not all fall due together).
    pub fn checked_within(&self, peer: &PeerId, shard: &ShardId, ttl: Duration, now: u64) -> bool {
        let Some(s) = self.proof_state(peer, shard) else {
            return false;
        };
        let h = blake3::hash(&[peer.to_bytes().as_slice(), &shard.0].concat());
        let frac = h.as_bytes()[0] as f64 / 255.0;
        let ttl = ttl.as_secs_f64() * (0.75 + 0.5 * frac);
        (now as f64) < s.last_checked as f64 + ttl
    }

    /// How long a proof of this copy stays fresh before the copy is due
    /// again: a 24th of `interval` for a copy that has passed only just now
    /// (a receipt proof), doubling with its unbroken record up to `interval`.
    /// A peer that proves receipt and then drops the bytes is found within
    /// hours, not days, for about 5 extra proofs over a copy's life.
    pub fn audit_ttl(
        &self,
        peer: &PeerId,
        shard: &ShardId,
        interval: Duration,
        now: u64,
    ) -> Duration {
        let record = self
            .proof_state(peer, shard)
            .and_then(|s| s.passing_since)
            .map_or(0, |since| now.saturating_sub(since));
        Duration::from_secs(record).clamp(interval / 24, interval)
    }

    /// The copy passed its last proof, at or after `t`.
    /// Per shard, the peers whose copy this node proved at or after `t`
    /// (and that have not failed since): one pass over the proof records.
    pub fn proven_holders(&self, t: u64) -> HashMap<ShardId, Vec<PeerId>> {
        let mut out: HashMap<ShardId, Vec<PeerId>> = HashMap::new();
        for ((peer, shard), s) in self.cache().iter() {
            if s.proven_since(t) {
                out.entry(*shard).or_default().push(*peer);
            }
        }
        out
    }

    pub fn proven_since(&self, peer: &PeerId, shard: &ShardId, t: u64) -> bool {
        self.proof_state(peer, shard)
            .is_some_and(|s| s.proven_since(t))
    }

    /// Notes one proof result (no evidence: callers record per round).
    fn note(&self, peer: PeerId, shard: ShardId, ok: bool, now: u64) {
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHE && !cache.contains_key(&(peer, shard)) {
            prune_oldest(&mut cache);
        }
        let s = cache.entry((peer, shard)).or_default();
        s.last_checked = now;
        if ok {
            s.last_ok = now;
            if s.passing_since.is_none() {
                s.passing_since = Some(now);
            }
        } else {
            s.last_fail = now;
            s.passing_since = None;
        }
    }

    /// Notes a round `peer` answered: returns true when it was the
    /// `BUSY_ROUNDS`th `Busy` in a row (the streak then starts again).
    fn note_busy(&self, peer: PeerId, busy: bool) -> bool {
        let mut m = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if !busy {
            m.remove(&peer);
            return false;
        }
        if m.len() >= MAX_CACHE && !m.contains_key(&peer) {
            m.clear();
        }
        let n = m.entry(peer).or_default();
        *n += 1;
        if *n >= BUSY_ROUNDS {
            *n = 0;
            return true;
        }
        false
    }

    /// Forgets a copy (the peer said it no longer holds it, honestly).
    pub fn forget(&self, peer: &PeerId, shard: &ShardId) {
        self.cache().remove(&(*peer, *shard));
    }

    /// Reputation of every peer with a record, or one.
    pub fn report(&self, only: Option<&PeerId>, why: usize) -> Vec<PeerReputation> {
        let reps: Vec<(PeerId, Reputation)> = self
            .reps()
            .iter()
            .filter(|(p, _)| only.is_none_or(|o| o == *p))
            .map(|(p, r)| (*p, *r))
            .collect();
        let mut out: Vec<PeerReputation> = reps
            .into_iter()
            .map(|(p, r)| PeerReputation {
                peer: p.to_string(),
                score: r.score(),
                standing: match r.standing(&self.policy) {
                    Standing::Vetting if self.anchors.contains(&p) => "trusted".into(),
                    st => st.name().into(),
                },
                passed: r.passed,
                failed: r.failed,
                manual_isolation: r.manual_isolation,
                last_at: r.last_at,
                evidence: if why > 0 {
                    self.store.evidence(&p.to_bytes(), why).unwrap_or_default()
                } else {
                    Vec::new()
                },
            })
            .collect();
        out.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.peer.cmp(&b.peer)));
        out
    }

    pub fn counters_snapshot(&self) -> AuditCounters {
        self.stats.snapshot()
    }

    pub(crate) fn counters(&self) -> &AuditStats {
        &self.stats
    }

    pub(crate) fn add(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Drops the eighth of the cache checked longest ago: one pass per
/// `MAX_CACHE / 8` inserts, not one per insert.
fn prune_oldest(cache: &mut HashMap<(PeerId, ShardId), ProofState>) {
    let mut ages: Vec<u64> = cache.values().map(|s| s.last_checked).collect();
    let k = ages.len() / 8;
    if k == 0 {
        cache.clear();
        return;
    }
    let (_, cut, _) = ages.select_nth_unstable(k);
    let cut = *cut;
    let mut left = k;
    cache.retain(|_, s| {
        if s.last_checked < cut || (s.last_checked == cut && left > 0) {
            left = left.saturating_sub(1);
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests;
