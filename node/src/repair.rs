//! The repair service: keeps every shard this node holds at its tier's copy
//! count while peers join, leave, fail and drain.
//!
//! A *scan* (every `scan_interval`, and at once when membership changes)
//! recomputes the responsible set of every local shard over live and suspect
//! peers, asks those peers which shards they hold (`Has`, batched), and applies
//! `protocol::repair::decide`: missing copies become jobs in the persistent
//! transfer queue (RocksDB, so a restart resumes them), and copies that are
//! redundant (all wanted copies confirmed on responsible peers) are removed.
//! A *worker* runs queued jobs, highest priority first (repair before handoff,
//! larger deficit and higher tier first), at most `parallel` at a time and
//! within `bandwidth` bytes per second, retrying failures with backoff.
//! `rebalance plan` is a scan that changes nothing.

use crate::distribute::Net;
use crate::membership::PeerState;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::repair::{self, Reason};
use shardnet_protocol::wire::{Request, Response, MAX_HAS_IDS};
use shardnet_protocol::{lease, ShardId};
use shardnet_store::{ShardState, Store, TransferJob};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Most retries of one transfer before it waits for the next scan to re-plan it.
const MAX_ATTEMPTS: u32 = 8;
/// Longest backoff between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// An unchanged plan is announced again after this long.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(60);
/// How often the worker looks for due jobs when idle.
const WORKER_TICK: Duration = Duration::from_millis(200);

#[derive(Clone, Debug)]
pub struct RepairConfig {
    pub scan_interval: Duration,
    /// Transfers at once (runbook default 10).
    pub parallel: usize,
    /// Bytes per second for repair traffic; 0 = unlimited.
    pub bandwidth: u64,
    /// No scan before the node has been up this long: until it has heard every
    /// live peer, its responsible sets would be wrong and it would move shards
    /// to the wrong places (a restart must cause no traffic).
    pub warmup: Duration,
}

/// One planned copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedMove {
    pub shard: ShardId,
    pub from: String,
    pub to: String,
    pub bytes: u64,
    pub reason: String,
}

/// A peer's load as the view reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerLoad {
    pub peer: String,
    pub zone: String,
    pub used: u64,
    pub capacity: u64,
    /// Percent above (+) or below (-) the mean utilisation.
    pub deviation_pct: f64,
    /// "ok", "warn" (above 20%) or "act" (above 35%).
    pub level: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub at: u64,
    pub shards: u64,
    pub moves: Vec<PlannedMove>,
    /// Local copies that are (or would be) removed as redundant.
    pub removals: Vec<ShardId>,
    pub repair_bytes: u64,
    pub handoff_bytes: u64,
    /// Shards with fewer healthy copies than wanted.
    pub below_target: u64,
    /// Shards whose copies cannot be completed now (too few live peers).
    pub blocked: u64,
    pub eta_secs: Option<f64>,
    pub load: Vec<PeerLoad>,
    pub churn_threshold: f64,
    /// Fraction of known peers not live.
    pub churn: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RepairStatus {
    pub paused: bool,
    pub parallel: usize,
    pub bandwidth: u64,
    pub queued: u64,
    pub queued_bytes: u64,
    pub in_flight: u64,
    pub transfers_done: u64,
    pub bytes_moved: u64,
    pub failures: u64,
    pub removed: u64,
    pub draining: bool,
    pub local_shards: u64,
    pub eta_secs: Option<f64>,
    pub last_scan: Option<Plan>,
}

/// State shared by the scanner, the worker and the control API.
pub struct Repair {
    pub cfg: Mutex<RepairConfig>,
    pub paused: AtomicBool,
    kick: Notify,
    in_flight: Mutex<HashSet<Vec<u8>>>,
    transfers_done: AtomicU64,
    bytes_moved: AtomicU64,
    failures: AtomicU64,
    removed: AtomicU64,
    last_scan: Mutex<Option<Plan>>,
    /// Last plan announced on the rebalance topic: (moves, bytes), when.
    announced: Mutex<Option<((usize, u64), Instant)>>,
    next_free: Mutex<Instant>,
    active: AtomicUsize,
}

impl Repair {
    pub fn new(cfg: RepairConfig) -> Arc<Self> {
        Arc::new(Repair {
            cfg: Mutex::new(cfg),
            paused: AtomicBool::new(false),
            kick: Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
            transfers_done: AtomicU64::new(0),
            bytes_moved: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            last_scan: Mutex::new(None),
            announced: Mutex::new(None),
            next_free: Mutex::new(Instant::now()),
            active: AtomicUsize::new(0),
        })
    }

    fn cfg(&self) -> RepairConfig {
        self.cfg.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks for a scan now (membership changed, or an operator said so).
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    pub fn status(&self, store: &Store, draining: bool) -> RepairStatus {
        let cfg = self.cfg();
        let queue = store.transfers().unwrap_or_default();
        let queued_bytes: u64 = queue.iter().map(|(_, _, j)| j.size as u64).sum();
        let mut local_shards = 0;
        let _ = store.for_each_meta(|_, _| {
            local_shards += 1;
            true
        });
        RepairStatus {
            paused: self.paused.load(Ordering::Relaxed),
            parallel: cfg.parallel,
            bandwidth: cfg.bandwidth,
            queued: queue.len() as u64,
            queued_bytes,
            in_flight: self.active.load(Ordering::Relaxed) as u64,
            transfers_done: self.transfers_done.load(Ordering::Relaxed),
            bytes_moved: self.bytes_moved.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
            draining,
            local_shards,
            eta_secs: (cfg.bandwidth > 0).then(|| queued_bytes as f64 / cfg.bandwidth as f64),
            last_scan: self
                .last_scan
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Waits until bandwidth allows `bytes` more.
    async fn throttle(&self, bytes: u64) {
        let rate = self.cfg().bandwidth;
        if rate == 0 {
            return;
        }
        let start = {
            let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

fn priority(reason: Reason, deficit: usize, wanted: usize) -> u8 {
    match reason {
        Reason::Repair => (60usize.saturating_sub(deficit * 8 + wanted)) as u8,
        Reason::Handoff => (200usize.saturating_sub(wanted)) as u8,
    }
}

fn now_unix() -> u64 {
    crate::output::now_unix()
}

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
        let r = if avoid.is_empty() || pool.iter().filter(|c| c.eligible(*size)).count() < *wanted {
            placement::responsible_set(id, *size, &cands, *wanted)
        } else {
            placement::responsible_set(id, *size, &pool, *wanted)
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
    for ((id, size, wanted, _), r) in shards.iter().zip(&sets) {
        let holders: Vec<PeerId> = r
            .iter()
            .filter(|p| held.get(p).is_some_and(|s| s.contains(id)))
            .copied()
            .collect();
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

/// Copies one queued shard to its target. Errors are reasons for the log.
async fn transfer(net: &Net, store: &Arc<Store>, job: &TransferJob) -> Result<u64, String> {
    let peer = PeerId::from_bytes(&job.peer).map_err(|e| e.to_string())?;
    if !net.view.is_reachable(&peer) {
        return Err(format!("peer {peer} is not live"));
    }
    let (st, id) = (store.clone(), job.shard);
    let (bytes, meta) = tokio::task::spawn_blocking(move || (st.get_shard(&id), st.meta(&id)))
        .await
        .map_err(|e| e.to_string())?;
    let bytes = bytes.map_err(|e| e.to_string())?;
    let (leases, avoid) = meta
        .map_err(|e| e.to_string())?
        .map(|m| (m.leases, m.avoid))
        .unwrap_or_default();
    let Some((first, rest)) = leases.split_first() else {
        return Err("shard has no lease".into());
    };
    let size = bytes.len() as u64;
    match net
        .client
        .request(
            peer,
            Request::Store {
                id,
                lease: *first,
                bytes,
                avoid,
            },
        )
        .await
    {
        Ok(Response::Stored) => {}
        Ok(Response::Rejected(r)) => return Err(format!("{peer} refused: {r}")),
        Ok(other) => return Err(format!("{peer} answered {other:?}")),
        Err(e) => return Err(e.to_string()),
    }
    for l in rest {
        match net
            .client
            .request(peer, Request::Renew { id, lease: *l })
            .await
        {
            Ok(Response::Renewed) => {}
            other => return Err(format!("{peer}: lease not copied: {other:?}")),
        }
    }
    Ok(size)
}

/// Runs the scanner and the worker until `stop` fires.
pub async fn run(
    net: Arc<Net>,
    store: Arc<Store>,
    repair: Arc<Repair>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let scanner = {
        let (net, store, repair, mut stop) =
            (net.clone(), store.clone(), repair.clone(), stop.clone());
        tokio::spawn(async move {
            let warmup = repair.cfg().warmup;
            tokio::select! {
                _ = tokio::time::sleep(warmup) => {}
                _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
            loop {
                let interval = repair.cfg().scan_interval;
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = repair.kick.notified() => {
                        // Let a burst of membership changes settle into one scan.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                }
                if !repair.paused.load(Ordering::Relaxed) {
                    scan(&net, &store, &repair, true, 0.2).await;
                }
            }
        })
    };
    // Jobs queued before a restart wait for the view to fill up too.
    let warmup = repair.cfg().warmup;
    tokio::select! {
        _ = tokio::time::sleep(warmup) => {}
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {}
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WORKER_TICK) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        }
        if repair.paused.load(Ordering::Relaxed) {
            continue;
        }
        let parallel = repair.cfg().parallel.max(1);
        let free = parallel.saturating_sub(repair.active.load(Ordering::Relaxed));
        if free == 0 {
            continue;
        }
        let st = store.clone();
        let Ok(Ok(queue)) = tokio::task::spawn_blocking(move || st.transfers()).await else {
            continue;
        };
        let now = now_unix();
        let mut started = 0;
        for (key, due, job) in queue {
            if started == free {
                break;
            }
            if due > now
                || !repair
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.clone())
            {
                continue;
            }
            started += 1;
            repair.active.fetch_add(1, Ordering::Relaxed);
            let (net, store, repair) = (net.clone(), store.clone(), repair.clone());
            tokio::spawn(async move {
                repair.throttle(job.size as u64).await;
                let result = transfer(&net, &store, &job).await;
                let _ = store.remove_transfer(&key);
                match result {
                    Ok(bytes) => {
                        repair.transfers_done.fetch_add(1, Ordering::Relaxed);
                        repair.bytes_moved.fetch_add(bytes, Ordering::Relaxed);
                        debug!(shard = %job.shard, reason = %job.reason, "copied");
                    }
                    Err(e) => {
                        repair.failures.fetch_add(1, Ordering::Relaxed);
                        let attempts = job.attempts + 1;
                        warn!(shard = %job.shard, attempt = attempts, "transfer failed: {e}");
                        if attempts < MAX_ATTEMPTS {
                            let backoff =
                                Duration::from_secs(1u64 << attempts.min(8)).min(MAX_BACKOFF);
                            let again = TransferJob {
                                attempts,
                                ..job.clone()
                            };
                            let prio = key.first().copied().unwrap_or(255);
                            let _ = store.enqueue_transfer(
                                prio,
                                now_unix() + backoff.as_secs(),
                                &again,
                            );
                        }
                    }
                }
                repair
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                repair.active.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    let _ = scanner.await;
}
