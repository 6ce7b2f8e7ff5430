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

use super::local::local_shards;
use super::prove::{ask_holders, prove_all};
use super::quarantine::quarantined;
use super::shed::shed;
use super::{now_unix, priority, Plan, PlannedMove, Repair};
use crate::distribute::Net;
use libp2p::PeerId;
use shardnet_protocol::patience;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::repair::{self, Reason};
use shardnet_protocol::ShardId;
use shardnet_store::{Store, TransferJob};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

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
    // Per shard, the peers of its set without the avoided ones left out
    // that are not in `sets`: an avoided peer may hold a copy (placed when
    // separation yielded), and its proven copy counts towards the floor.
    let mut also: Vec<Vec<PeerId>> = Vec::with_capacity(shards.len());
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
        let full = placement::responsible_set(&l.id, l.size, &cands, ext);
        let r = if l.avoid.is_empty()
            || pool.iter().filter(|c| c.eligible(l.size)).count() < l.wanted
        {
            full.clone()
        } else {
            placement::responsible_set(&l.id, l.size, &pool, ext)
        };
        let extra: Vec<PeerId> = full.into_iter().filter(|p| !r.contains(p)).collect();
        for p in r.iter().chain(&extra) {
            if *p != local && net.view.is_reachable(p) {
                asks.entry(*p).or_default().push(l.id);
            }
        }
        sets.push(r);
        also.push(extra);
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
    for ((l, ranked), extra) in shards.iter().zip(&sets).zip(&also) {
        // This node might drop its copy: it is not among the first `wanted`,
        // and there are more claimed copies than wanted (lazy handoff keeps
        // a displaced holder's copy while no surplus exists: its
        // co-holders' proofs are then due on their own schedule).
        let claimed = ranked
            .iter()
            .chain(extra)
            .filter(|p| **p != local && claims(p, &l.id))
            .count();
        let removable = !ranked.iter().take(l.wanted).any(|p| *p == local) && claimed >= l.wanted;
        for p in ranked.iter().chain(extra).filter(|p| **p != local) {
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
    // A proof stays fresh as long as a copy may go unchallenged: its audit
    // TTL is at most the interval plus 25% of jitter, and it is next
    // challenged at the first scan after that.
    let fresh_for = interval + interval / 4 + cfg.scan_interval;
    let fresh_after = scan_start.saturating_sub(fresh_for.as_secs());
    let confirmed = |p: &PeerId, id: &ShardId| {
        claims(p, id) && !net.view.is_isolated(p) && audits.proven_since(p, id, fresh_after)
    };
    let proven_now =
        |p: &PeerId, id: &ShardId| confirmed(p, id) && audits.proven_since(p, id, scan_start);
    let proven_by_shard = audits.proven_holders(fresh_after);

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
        // A silent peer keeps its place as long as `protocol::patience`
        // says for this shard: from its copies proven here and now, and
        // whether this node ever proved the silent peer's copy itself.
        let holds = |p: &PeerId| *p == local || confirmed(p, id);
        // This copy unless quarantined, and the copies on reachable peers
        // this node proved within the audit window, in the set or not (a
        // holder that missed this scan's `Has` round still counts: an answer
        // that it lacks the copy has forgotten its proof already).
        let mine = usize::from(l.quarantined_at.is_none());
        let live = mine
            + proven_by_shard.get(id).map_or(0, |peers| {
                peers
                    .iter()
                    .filter(|p| {
                        **p != local && net.view.is_reachable(p) && !net.view.is_isolated(p)
                    })
                    .count()
            });
        // This node proved `p`'s copy, and no proof failed since.
        let proven_once = |p: &PeerId| {
            audits
                .proof_state(p, id)
                .is_some_and(|s| s.last_ok > 0 && s.last_ok >= s.last_fail)
        };
        let waits_for = |p: &PeerId| {
            net.view.silence(p).is_none_or(|(silent, wait)| {
                let held = proven_once(p);
                let keeps = patience::keeps_place(silent, wait, held, live, *wanted);
                if !keeps {
                    tracing::debug!(%p, shard = %id, ?silent, held, live, "a silent holder's place goes to the next peer");
                }
                keeps
            })
        };
        // Lazy handoff: a holder keeps its place ahead of a closer peer that
        // lacks the shard (a joiner) while it stays among the first
        // `wanted + SPILL`; so does a holder whose copy this node proved and
        // that did not answer this scan (silent, restarting, busy), while it
        // keeps its place. (A peer that answered without the copy has no
        // proof record left: `audits.forget` above.)
        let kept_unconfirmed = |p: &PeerId| proven_once(p) && waits_for(p);
        let r = &repair::keep_in_place(
            ranked,
            *wanted,
            |p| holds(p) || kept_unconfirmed(p),
            |p| waits_for(p) && net.view.has_room(p, *size) && !failed_claim(p),
            |p| zone_of.get(p).copied(),
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
                && !repair.kept_apart(id, p)
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
        if d.copies < d.wanted && r.iter().any(|p| net.view.silence(p).is_some()) {
            plan.waiting_for_silent += 1;
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
    super::announce::finish(net, store, repair, apply, &mut plan).await;
    plan
}
