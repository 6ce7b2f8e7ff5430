//! The scan half of the repair service: responsible sets of the local
//! shards, who holds them (`Has`), `protocol::repair::decide` per shard, the
//! transfer jobs and removals that follow, capacity shedding, and the plan
//! `rebalance plan` shows.

use super::{now_unix, priority, PeerLoad, Plan, PlannedMove, Repair, ANNOUNCE_EVERY};
use crate::distribute::Net;
use crate::membership::PeerState;
use libp2p::PeerId;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::repair::{self, Reason};
use shardnet_protocol::wire::{Request, Response, MAX_HAS_IDS};
use shardnet_protocol::{lease, ShardId};
use shardnet_store::{ShardState, Store, TransferJob};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Local shards: (id, size, copies wanted, peers to avoid). Shards stored less
/// than `grace` ago are left out: the backup that brought them may still be
/// placing their other copies, and repairing them now would copy them twice
/// (measured with 75 nodes: scans during a backup queued such copies).
fn local_shards(store: &Store, grace: Duration) -> Vec<(ShardId, u64, usize, Vec<[u8; 32]>)> {
    let now = now_unix();
    let fresh_after = now.saturating_sub(grace.as_secs());
    let mut v = Vec::new();
    let _ = store.for_each_meta(|id, m| {
        if m.state == ShardState::Healthy && m.stored_at <= fresh_after {
            let wanted = lease::copies_wanted(&m.leases, now);
            v.push((id, m.size as u64, wanted, m.avoid));
        }
        true
    });
    v
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
fn shed(net: &Net, local: &PeerId, shards: &[(ShardId, u64, usize, Vec<[u8; 32]>)]) {
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
        let held: Vec<(ShardId, u64)> = shards.iter().map(|(id, s, ..)| (*id, *s)).collect();
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

/// One scan. With `apply`, jobs are queued and redundant copies removed.
pub async fn scan(
    net: &Net,
    store: &Arc<Store>,
    repair: &Repair,
    apply: bool,
    churn_threshold: f64,
) -> Plan {
    let local = net.client.local_peer_id();
    let st = store.clone();
    let grace = repair.cfg().scan_interval;
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
    for (id, size, wanted, avoid) in &shards {
        // Separation yields to durability: the avoided peers are used again
        // when too few others are eligible to hold every wanted copy.
        let pool: Vec<Candidate<PeerId>> = cands
            .iter()
            .filter(|c| !avoid.contains(&c.key))
            .cloned()
            .collect();
        // `SPILL` more than wanted: the next in line stand in for full peers.
        let ext = *wanted + repair::SPILL;
        let r = if avoid.is_empty() || pool.iter().filter(|c| c.eligible(*size)).count() < *wanted {
            placement::responsible_set(id, *size, &cands, ext)
        } else {
            placement::responsible_set(id, *size, &pool, ext)
        };
        for p in &r {
            if *p != local && net.view.is_reachable(p) {
                asks.entry(*p).or_default().push(*id);
            }
        }
        sets.push(r);
    }
    let held = ask_holders(net, asks).await;
    let zone_of: HashMap<PeerId, &str> = cands.iter().map(|c| (c.peer, c.zone.as_str())).collect();
    let mut plan = Plan {
        at: now_unix(),
        shards: shards.len() as u64,
        churn_threshold,
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
    for ((id, size, wanted, _), ranked) in shards.iter().zip(&sets) {
        let confirmed = |p: &PeerId| held.get(p).is_some_and(|s| s.contains(id));
        let r = &repair::spill(
            ranked,
            *wanted,
            |p| *p == local || confirmed(p),
            |p| net.view.has_room(p, *size),
        );
        let holders: Vec<PeerId> = r.iter().filter(|p| confirmed(p)).copied().collect();
        // Only peers that answered this scan's queries may receive copies.
        let answered = |p: &PeerId| {
            net.view.is_reachable(p) && held.contains_key(p) && net.view.has_room(p, *size)
        };
        let d = repair::decide(&local, r, &holders, answered, *wanted);
        if d.copies < d.wanted {
            plan.below_target += 1;
        }
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
                let on: Vec<String> = holders.iter().map(|p| p.to_string()).collect();
                match store.remove_redundant(id, &on.join(", ")) {
                    Ok(Some(meta)) => {
                        repair.removed.fetch_add(1, Ordering::Relaxed);
                        let owners: Vec<_> = meta.leases.iter().map(|l| l.owner).collect();
                        net.usage.sub(*size, &owners);
                        info!(shard = %id, "removed redundant copy: {} copies confirmed on responsible peers", holders.len());
                    }
                    Ok(None) => {}
                    Err(e) => warn!(shard = %id, "cannot remove redundant copy: {e}"),
                }
            }
        }
    }
    if apply && !plan.moves.is_empty() {
        // The queue survives a crash from here on (writes skip the WAL).
        if let Err(e) = store.flush() {
            warn!("cannot persist the transfer queue: {e}");
        }
    }
    let bw = repair.cfg().bandwidth;
    let total = plan.repair_bytes + plan.handoff_bytes;
    plan.eta_secs = (bw > 0).then(|| total as f64 / bw as f64);
    let (load, churn) = load_report(net);
    plan.load = load;
    plan.churn = churn;
    if apply {
        if !plan.moves.is_empty() || !plan.removals.is_empty() {
            info!(
                moves = plan.moves.len(),
                removals = plan.removals.len(),
                below_target = plan.below_target,
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
