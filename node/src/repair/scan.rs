//! The scan half of the repair service: responsible sets of the local
//! shards, who claims to hold them (`Has`, a hint), possession proofs of the
//! claimed copies (`audit`), `protocol::repair::decide` per shard over the
//! *proven* copies only, the transfer jobs and quarantines that follow,
//! `protocol::purge::decide` for quarantined copies, capacity shedding, and
//! the plan `rebalance plan` shows.
//!
//! Which copies are challenged in a scan: every claimed copy of a shard this
//! node might drop (it is outside the shard's responsible set) or holds in
//! quarantine once the grace period is over; every other claimed copy when its
//! last proof is older than its audit TTL (a 24th of the audit interval for a
//! new copy, doubling up to the interval; quarantined ones: a quarter of the
//! grace period). So in a steady swarm each copy is proved about once per
//! audit interval, and every removal rests on proofs from the same scan.

use super::{now_unix, priority, PeerLoad, Plan, PlannedMove, Repair, ANNOUNCE_EVERY};
use crate::audit;
use crate::distribute::Net;
use crate::membership::PeerState;
use libp2p::PeerId;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::proof;
use shardnet_protocol::purge::{self, ProvenCopy};
use shardnet_protocol::repair::{self, Reason};
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Request, Response, MAX_HAS_IDS};
use shardnet_protocol::{retention, ShardId};
use shardnet_store::{ShardState, Store, TransferJob};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// A local copy the scan looks at.
struct Local {
    id: ShardId,
    size: u64,
    wanted: usize,
    /// Placement keys to avoid (this node's own included).
    avoid: Vec<[u8; 32]>,
    /// Set for a quarantined copy: when it was quarantined.
    quarantined_at: Option<u64>,
}

/// Local healthy and quarantined copies. Shards stored less than `grace` ago
/// are left out: the backup that brought them may still be placing their
/// other copies, and repairing them now would copy them twice (measured with
/// 75 nodes: scans during a backup queued such copies).
fn local_shards(store: &Store, grace: Duration) -> Vec<Local> {
    let now = now_unix();
    let fresh_after = now.saturating_sub(grace.as_secs());
    let mut v = Vec::new();
    let _ = store.for_each_meta(|id, m| {
        // Once every lease has run out a shard is neither repaired nor
        // handed off (no holder would take it), and a quarantined copy of it
        // belongs to prune (a job's rollback or purge), not to the
        // quarantine pass: its copies stay until prune removes them.
        let Some(wanted) = retention::copies_to_keep(&m.leases, now) else {
            return true;
        };
        let quarantined = m.state == ShardState::Quarantined;
        if (m.state == ShardState::Healthy && m.stored_at <= fresh_after) || quarantined {
            v.push(Local {
                id,
                size: m.size as u64,
                wanted,
                // This node's own key too: a holder the owner's list avoids
                // (it took a copy while too few others were eligible) must
                // rank the shard as its co-holders do, outside the set, or
                // each side counts itself responsible and the surplus copy
                // stays for good (seen in e2e_lifecycle after gold -> bronze).
                avoid: m.avoid_keys().to_vec(),
                quarantined_at: quarantined.then_some(m.quarantined_at),
            });
        }
        true
    });
    v
}

/// Challenges every (peer, shard) pair in `todo`, batched per peer, peers in
/// parallel. Answers are checked against this node's own copies, each read
/// once however many peers are challenged for it.
async fn prove_all(net: &Net, store: &Arc<Store>, todo: HashMap<PeerId, Vec<ShardId>>) {
    let nonces: HashMap<PeerId, proof::Nonce> = todo.keys().map(|p| (*p, audit::nonce())).collect();
    let mut asks: HashMap<ShardId, Vec<(PeerId, proof::Nonce)>> = HashMap::new();
    for (peer, ids) in &todo {
        for id in ids {
            asks.entry(*id).or_default().push((*peer, nonces[peer]));
        }
    }
    let st = store.clone();
    let expected = tokio::task::spawn_blocking(move || audit::expected_for_peers(&st, &asks))
        .await
        .unwrap_or_default();
    let read: HashMap<ShardId, u64> = expected
        .values()
        .flatten()
        .map(|e| (e.id, e.size))
        .collect();
    let audits = &net.audits;
    audits.add(&audits.counters().bytes_checked, read.values().sum());
    let futs = expected.into_iter().map(|(peer, expected)| {
        let (client, audits) = (net.client.clone(), net.audits.clone());
        let nonce = nonces[&peer];
        async move {
            let items: Vec<(ShardId, u64)> = expected.iter().map(|e| (e.id, e.size)).collect();
            let by_id: HashMap<ShardId, audit::Expected> =
                expected.iter().map(|e| (e.id, *e)).collect();
            for batch in proof::batches(&items) {
                let batch: Vec<audit::Expected> = batch
                    .iter()
                    .filter_map(|(id, _)| by_id.get(id).copied())
                    .collect();
                audit::challenge(
                    &client,
                    &audits,
                    peer,
                    nonce,
                    &batch,
                    true,
                    Evidence::ProofFailed,
                )
                .await;
            }
        }
    });
    futures::future::join_all(futs).await;
}

/// Which of `ids` each peer holds: peer → set of ids it confirmed.
async fn ask_holders(
    net: &Net,
    asks: HashMap<PeerId, Vec<ShardId>>,
) -> HashMap<PeerId, HashSet<ShardId>> {
    let mut futs = Vec::new();
    for (peer, ids) in asks {
        for batch in ids.chunks(MAX_HAS_IDS) {
            let (client, batch) = (net.client.clone(), batch.to_vec());
            futs.push(async move {
                let r = client
                    .request(peer, Request::Has { ids: batch.clone() })
                    .await;
                // `None`: no valid answer; the peer's holdings are unknown.
                let held: Option<Vec<ShardId>> = match r {
                    Ok(Response::Has(v)) if v.len() == batch.len() => Some(
                        batch
                            .into_iter()
                            .zip(v)
                            .filter(|(_, h)| *h)
                            .map(|(id, _)| id)
                            .collect(),
                    ),
                    _ => None,
                };
                (peer, held)
            });
        }
    }
    // A peer that failed to answer any batch is left out entirely: it is
    // neither a confirmed holder nor a transfer target in this scan.
    let mut out: HashMap<PeerId, HashSet<ShardId>> = HashMap::new();
    let mut silent: HashSet<PeerId> = HashSet::new();
    for (peer, held) in futures::future::join_all(futs).await {
        match held {
            Some(h) => out.entry(peer).or_default().extend(h),
            None => {
                silent.insert(peer);
            }
        }
    }
    for p in silent {
        out.remove(&p);
    }
    out
}

fn load_report(net: &Net) -> (Vec<PeerLoad>, f64) {
    let peers = net.view.list();
    let known = peers.len().max(1);
    let not_live = peers.iter().filter(|p| p.state != PeerState::Live).count();
    let live: Vec<_> = peers
        .iter()
        .filter(|p| p.state == PeerState::Live && p.heartbeat.capacity > 0)
        .collect();
    let util = |u: u64, c: u64| u as f64 / c as f64;
    let mean = live
        .iter()
        .map(|p| util(p.heartbeat.used, p.heartbeat.capacity))
        .sum::<f64>()
        / live.len().max(1) as f64;
    let load = live
        .iter()
        .map(|p| {
            let u = util(p.heartbeat.used, p.heartbeat.capacity);
            let dev = if mean > 0.0 {
                (u - mean) / mean * 100.0
            } else {
                0.0
            };
            PeerLoad {
                peer: p.peer_id.clone(),
                zone: p.heartbeat.zone.clone(),
                used: p.heartbeat.used,
                capacity: p.heartbeat.capacity,
                deviation_pct: dev,
                level: if dev > 35.0 {
                    "act"
                } else if dev > 20.0 {
                    "warn"
                } else {
                    "ok"
                }
                .into(),
            }
        })
        .collect();
    (load, not_live as f64 / known as f64)
}

/// Below this share of its capacity a shedding node drops its radius again.
const UNSHED_BELOW: f64 = 0.5;
/// A node over its capacity sheds down to this share of it.
const SHED_TO: f64 = 0.9;

/// Capacity: a node holding more than its capacity (say, the operator lowered
/// it) narrows its storage radius so that it keeps its closest shards, at
/// most [`SHED_TO`] of its capacity. The radius goes out with the next
/// heartbeat; from then every node's responsible sets leave this node out for
/// the shards beyond it, the usual handoff copies them to peers with room, and
/// this node drops each copy once all wanted copies are confirmed elsewhere.
/// The radius only narrows while the node is above [`UNSHED_BELOW`] of its
/// capacity: widening it as soon as there is room would pull the shards back
/// and flap. It is persisted (`shed.json`) for the same reason.
fn shed(net: &Net, local: &PeerId, shards: &[Local]) {
    let Some(me) = net.view.list().into_iter().find(|p| p.local) else {
        return;
    };
    let capacity = me.heartbeat.capacity;
    let used = net.usage.used.load(Ordering::Relaxed);
    let mut radius = net.usage.radius.lock().unwrap_or_else(|p| p.into_inner());
    if capacity == 0 {
        return;
    }
    if used > capacity {
        let held: Vec<(ShardId, u64)> = shards
            .iter()
            .filter(|l| l.quarantined_at.is_none())
            .map(|l| (l.id, l.size))
            .collect();
        let keep = (capacity as f64 * SHED_TO) as u64;
        let own = placement::peer_key(&local.to_bytes());
        if let Some(r) = placement::shed_radius(&own, &held, keep) {
            let narrower = radius.map_or(r, |cur| cur.min(r));
            if *radius != Some(narrower) {
                info!(
                    used,
                    capacity, "over capacity: shedding the shards farthest from this node"
                );
                *radius = Some(narrower);
            }
        }
    } else if radius.is_some() && (used as f64) < capacity as f64 * UNSHED_BELOW {
        info!(used, capacity, "well below capacity: taking shards again");
        *radius = None;
    }
}

/// One scan. With `apply`, jobs are queued, copies quarantined, purged or
/// restored.
pub async fn scan(
    net: &Net,
    store: &Arc<Store>,
    repair: &Repair,
    apply: bool,
    churn_threshold: f64,
) -> Plan {
    let local = net.client.local_peer_id();
    let st = store.clone();
    let cfg = repair.cfg();
    let grace = cfg.scan_interval;
    let shards = tokio::task::spawn_blocking(move || local_shards(&st, grace))
        .await
        .unwrap_or_default();
    if apply {
        shed(net, &local, &shards);
    }
    let cands: Vec<Candidate<PeerId>> = net.view.repair_candidates();
    // Responsible sets as they would be without storage radii: a handoff that
    // differs from them is a capacity move.
    let unlimited: Option<Vec<Candidate<PeerId>>> =
        cands.iter().any(|c| c.radius.is_some()).then(|| {
            cands
                .iter()
                .cloned()
                .map(|c| Candidate { radius: None, ..c })
                .collect()
        });
    let mut sets: Vec<Vec<PeerId>> = Vec::with_capacity(shards.len());
    let mut asks: HashMap<PeerId, Vec<ShardId>> = HashMap::new();
    for l in &shards {
        // Separation yields to durability: the avoided peers are used again
        // when too few others are eligible to hold every wanted copy.
        let pool: Vec<Candidate<PeerId>> = cands
            .iter()
            .filter(|c| !l.avoid.contains(&c.key))
            .cloned()
            .collect();
        // `SPILL` more than wanted: the next in line stand in for full peers.
        let ext = l.wanted + repair::SPILL;
        let r = if l.avoid.is_empty()
            || pool.iter().filter(|c| c.eligible(l.size)).count() < l.wanted
        {
            placement::responsible_set(&l.id, l.size, &cands, ext)
        } else {
            placement::responsible_set(&l.id, l.size, &pool, ext)
        };
        for p in &r {
            if *p != local && net.view.is_reachable(p) {
                asks.entry(*p).or_default().push(l.id);
            }
        }
        sets.push(r);
    }
    let held = ask_holders(net, asks).await;
    let claims = |p: &PeerId, id: &ShardId| held.get(p).is_some_and(|s| s.contains(id));

    // Possession proofs of the claimed copies (see the module doc).
    let scan_start = now_unix();
    let audits = &net.audits;
    let interval = cfg.audit_interval;
    let q_refresh = (cfg.quarantine_grace / 4)
        .min(interval)
        .max(Duration::from_secs(1));
    let mut todo: HashMap<PeerId, Vec<ShardId>> = HashMap::new();
    for (l, ranked) in shards.iter().zip(&sets) {
        // This node might drop its copy: it is not among the first `wanted`.
        let removable = !ranked.iter().take(l.wanted).any(|p| *p == local);
        for p in ranked.iter().filter(|p| **p != local) {
            if !claims(p, &l.id) {
                // Forgotten only when the peer answered that it lacks the
                // copy: a peer that did not answer (restarting, unreachable)
                // keeps its proof record until its copy is next due.
                if held.contains_key(p) {
                    audits.forget(p, &l.id);
                }
                continue;
            }
            let due = match l.quarantined_at {
                Some(q) => {
                    scan_start >= q.saturating_add(cfg.quarantine_grace.as_secs())
                        || !audits.checked_within(p, &l.id, q_refresh, scan_start)
                }
                None => {
                    let ttl = audits.audit_ttl(p, &l.id, interval, scan_start);
                    removable || !audits.checked_within(p, &l.id, ttl, scan_start)
                }
            };
            if due && !net.view.is_isolated(p) {
                todo.entry(*p).or_default().push(l.id);
            }
        }
    }
    let challenged: usize = todo.values().map(Vec::len).sum();
    prove_all(net, store, todo).await;
    let fresh_after = scan_start.saturating_sub(interval.as_secs());
    let confirmed = |p: &PeerId, id: &ShardId| {
        claims(p, id) && !net.view.is_isolated(p) && audits.proven_since(p, id, fresh_after)
    };
    let proven_now =
        |p: &PeerId, id: &ShardId| confirmed(p, id) && audits.proven_since(p, id, scan_start);

    let zone_of: HashMap<PeerId, &str> = cands.iter().map(|c| (c.peer, c.zone.as_str())).collect();
    let mut plan = Plan {
        at: now_unix(),
        shards: shards.len() as u64,
        churn_threshold,
        proofs: challenged as u64,
        ..Plan::default()
    };
    let queued: HashSet<(ShardId, Vec<u8>)> = if apply {
        store
            .transfers()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, _, j)| (j.shard, j.peer))
            .collect()
    } else {
        HashSet::new()
    };
    for (l, ranked) in shards.iter().zip(&sets) {
        let (id, size, wanted) = (&l.id, &l.size, &l.wanted);
        // A peer that claims the shard but failed its last proof of it
        // cannot take it either: it gives its place to the next in line.
        let failed_claim = |p: &PeerId| {
            claims(p, id)
                && audits
                    .proof_state(p, id)
                    .is_some_and(|s| s.last_fail > s.last_ok)
        };
        let r = &repair::spill(
            ranked,
            *wanted,
            |p| *p == local || confirmed(p, id),
            |p| net.view.has_room(p, *size) && !failed_claim(p),
        );
        if let Some(q) = l.quarantined_at {
            quarantined(
                net,
                store,
                repair,
                apply,
                &mut plan,
                l,
                q,
                ranked,
                r,
                &confirmed,
                &proven_now,
            )
            .await;
            continue;
        }
        let holders: Vec<PeerId> = r.iter().filter(|p| confirmed(p, id)).copied().collect();
        // Only peers that answered this scan's queries may receive copies,
        // and not a peer that claims a copy it has not failed to prove (a busy
        // or slow holder): it would get the same bytes again for nothing.
        let unproven_claim = |p: &PeerId| {
            claims(p, id)
                && !confirmed(p, id)
                && audits
                    .proof_state(p, id)
                    .is_none_or(|s| s.last_fail <= s.last_ok)
        };
        let answered = |p: &PeerId| {
            net.view.is_reachable(p)
                && held.contains_key(p)
                && net.view.has_room(p, *size)
                && !unproven_claim(p)
        };
        let trusted = |p: &PeerId| proven_now(p, id) && audits.trusted(p);
        let d = repair::decide(&local, r, &holders, answered, trusted, *wanted);
        if d.copies < d.wanted {
            plan.below_target += 1;
        }
        if plan.coverage.len() <= d.copies {
            plan.coverage.resize(d.copies + 1, 0);
        }
        plan.coverage[d.copies] += 1;
        if r.len() < *wanted {
            plan.blocked += 1;
        }
        let capacity_move = d.reason == Reason::Handoff
            && unlimited
                .as_ref()
                .is_some_and(|u| placement::responsible_set(id, *size, u, *wanted) != *r);
        // A handoff that spreads the copies over more zones than they are in
        // now (a zone came back, or a peer joined in an empty one).
        let zones_of = |peers: &mut dyn Iterator<Item = &PeerId>| {
            let mut z: Vec<&str> = peers.filter_map(|p| zone_of.get(p).copied()).collect();
            z.sort_unstable();
            z.dedup();
            z.len()
        };
        let zone_move = d.reason == Reason::Handoff
            && zones_of(&mut r.iter()) > zones_of(&mut holders.iter().chain([&local]));
        let reason = match d.reason {
            Reason::Repair => "repair",
            Reason::Handoff if capacity_move => "capacity",
            Reason::Handoff if zone_move => "zone",
            Reason::Handoff => "handoff",
        };
        for to in &d.send_to {
            match d.reason {
                Reason::Repair => plan.repair_bytes += size,
                Reason::Handoff => plan.handoff_bytes += size,
            }
            plan.moves.push(PlannedMove {
                shard: *id,
                from: local.to_string(),
                to: to.to_string(),
                bytes: *size,
                reason: reason.into(),
            });
            if apply && !queued.contains(&(*id, to.to_bytes())) {
                let job = TransferJob {
                    shard: *id,
                    peer: to.to_bytes(),
                    reason: reason.into(),
                    attempts: 0,
                    size: *size as u32,
                };
                let prio = priority(d.reason, d.wanted.saturating_sub(d.copies), d.wanted);
                if let Err(e) = store.enqueue_transfer(prio, now_unix(), &job) {
                    warn!(shard = %id, "cannot queue transfer: {e}");
                }
            }
        }
        if d.drop_local {
            plan.removals.push(*id);
            if apply {
                let on: Vec<String> = holders
                    .iter()
                    .filter(|p| trusted(p))
                    .map(|p| p.to_string())
                    .collect();
                let why = format!(
                    "redundant: {} wanted copies proven now on responsible, vetted peers {}",
                    wanted,
                    on.join(", ")
                );
                match store.quarantine(id, &why) {
                    Ok(Some(_)) => {
                        repair.removed.fetch_add(1, Ordering::Relaxed);
                        info!(shard = %id, "quarantined redundant copy: {} copies proven on responsible peers", on.len());
                    }
                    Ok(None) => {}
                    Err(e) => warn!(shard = %id, "cannot quarantine redundant copy: {e}"),
                }
            }
        }
    }
    if apply && (!plan.moves.is_empty() || !plan.removals.is_empty() || !plan.purged.is_empty()) {
        // The queue and state changes survive a crash from here on (writes
        // skip the WAL).
        if let Err(e) = store.flush() {
            warn!("cannot persist the transfer queue: {e}");
        }
    }
    let bw = cfg.bandwidth;
    let total = plan.repair_bytes + plan.handoff_bytes;
    plan.eta_secs = (bw > 0).then(|| total as f64 / bw as f64);
    let (load, churn) = load_report(net);
    plan.load = load;
    plan.churn = churn;
    if apply {
        if !plan.moves.is_empty() || !plan.removals.is_empty() || !plan.purged.is_empty() {
            info!(
                moves = plan.moves.len(),
                quarantined = plan.removals.len(),
                purged = plan.purged.len(),
                restored = plan.restored.len(),
                below_target = plan.below_target,
                proofs = plan.proofs,
                "repair scan"
            );
        }
        *repair.last_scan.lock().unwrap_or_else(|p| p.into_inner()) = Some(plan.clone());
        // Announce a plan when it changes, or once a minute while it lasts:
        // announcing every scan flooded gossip at 75 nodes (send queues full,
        // heartbeats dropped, peers turning suspect).
        let summary = (plan.moves.len(), plan.repair_bytes + plan.handoff_bytes);
        let due = {
            let mut last = repair.announced.lock().unwrap_or_else(|p| p.into_inner());
            let due = !plan.moves.is_empty()
                && last
                    .as_ref()
                    .is_none_or(|(s, at)| *s != summary || at.elapsed() >= ANNOUNCE_EVERY);
            if due {
                *last = Some((summary, Instant::now()));
            }
            due
        };
        if due {
            let note = format!("{} moves, {} bytes", summary.0, summary.1);
            net.client
                .publish(crate::swarm::REBALANCE_TOPIC, note.into_bytes())
                .await;
        }
    }
    plan
}

/// A quarantined copy: purge it, bring it back, or wait
/// (`protocol::purge::decide` over the copies proven elsewhere).
#[allow(clippy::too_many_arguments)]
async fn quarantined(
    net: &Net,
    store: &Arc<Store>,
    repair: &Repair,
    apply: bool,
    plan: &mut Plan,
    l: &Local,
    quarantined_at: u64,
    ranked: &[PeerId],
    responsible: &[PeerId],
    confirmed: &(dyn Fn(&PeerId, &ShardId) -> bool + Sync),
    proven_now: &(dyn Fn(&PeerId, &ShardId) -> bool + Sync),
) {
    let local = net.client.local_peer_id();
    let audits = &net.audits;
    let copies: Vec<(PeerId, ProvenCopy)> = ranked
        .iter()
        .filter(|p| **p != local)
        .map(|p| {
            let state = audits.proof_state(p, &l.id);
            (
                *p,
                ProvenCopy {
                    responsible: responsible.contains(p),
                    vetted: audits.trusted(p),
                    isolated: net.view.is_isolated(p),
                    fresh: confirmed(p, &l.id),
                    proven_now: proven_now(p, &l.id),
                    passing_since: state.and_then(|s| s.passing_since),
                },
            )
        })
        .collect();
    let list: Vec<ProvenCopy> = copies.iter().map(|(_, c)| *c).collect();
    let grace = repair.cfg().quarantine_grace.as_secs();
    match purge::decide(&list, l.wanted, quarantined_at, now_unix(), grace) {
        purge::Outcome::Keep => plan.quarantine_waiting += 1,
        purge::Outcome::Purge => {
            plan.purged.push(l.id);
            if !apply {
                return;
            }
            let proofs: Vec<String> = copies
                .iter()
                .filter(|(_, c)| c.responsible && c.vetted && c.proven_now)
                .map(|(p, c)| {
                    format!(
                        "{p} (passing since {})",
                        c.passing_since.unwrap_or_default()
                    )
                })
                .collect();
            match store.purge(&l.id, &proofs.join(", ")) {
                Ok(Some(meta)) => {
                    let owners: Vec<_> = meta.leases.iter().map(|x| x.owner).collect();
                    net.usage.sub(l.size, &owners);
                    repair.purged.fetch_add(1, Ordering::Relaxed);
                    info!(shard = %l.id, "purged quarantined copy: {} copies proven over the grace period", proofs.len());
                }
                Ok(None) => {}
                Err(e) => warn!(shard = %l.id, "cannot purge: {e}"),
            }
        }
        purge::Outcome::Restore => {
            plan.restored.push(l.id);
            if !apply {
                return;
            }
            let proven = list.iter().filter(|c| c.fresh && !c.isolated).count();
            let why = format!(
                "only {proven} of {} wanted copies proven elsewhere",
                l.wanted
            );
            match store.unquarantine(&l.id, &why) {
                Ok(Some(state)) => {
                    warn!(shard = %l.id, %state, "quarantined copy back in service: {why}")
                }
                Ok(None) => {}
                Err(e) => warn!(shard = %l.id, "cannot restore quarantined copy: {e}"),
            }
        }
    }
}
