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

mod announce;
mod local;
pub mod pieces;
mod prove;
mod quarantine;
mod scan;
mod shed;
mod transfer;

pub use scan::scan;
pub use shed::{load_report, utilisation};

use crate::distribute::Net;
use libp2p::PeerId;
use shardnet_protocol::repair::Reason;
use shardnet_protocol::ShardId;
use shardnet_store::{Store, TransferJob};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::{debug, info, warn};
use transfer::{transfer, Failed};

mod report;

pub use report::*;

/// The store's record of an operator's `rebalance pause` ("1") or resume.
pub const PAUSED_STATE: &str = "repair/paused";

/// Most retries of one transfer before it waits for the next scan to re-plan it.
const MAX_ATTEMPTS: u32 = 8;

/// Longest backoff between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// An unchanged plan is announced again after this long.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(60);

/// How long a peer that said it holds a sibling of a piece is not offered
/// that piece again.
const APART_FOR: Duration = Duration::from_secs(600);
/// Most such (piece, peer) pairs remembered.
const APART_MAX: usize = 4096;

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
    /// A claimed copy is re-proved when its last proof is older than this.
    pub audit_interval: Duration,
    /// A quarantined copy is purged only after the copies elsewhere kept
    /// passing proofs this long.
    pub quarantine_grace: Duration,
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
    purged: AtomicU64,
    /// The emergency reclaim is still over its threshold: quarantined
    /// copies are purged without waiting out their grace (still only on
    /// proven copies elsewhere).
    urgent: AtomicBool,
    last_scan: Mutex<Option<Plan>>,
    /// Last plan announced on the rebalance topic: (moves, bytes), when.
    announced: Mutex<Option<((usize, u64), Instant)>>,
    active: AtomicUsize,
    /// Pieces and the peers that said they hold a sibling of each, since
    /// when (see [`APART_FOR`]).
    apart: Mutex<HashMap<(ShardId, PeerId), Instant>>,
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
            purged: AtomicU64::new(0),
            urgent: AtomicBool::new(false),
            last_scan: Mutex::new(None),
            announced: Mutex::new(None),
            active: AtomicUsize::new(0),
            apart: Mutex::new(HashMap::new()),
        })
    }

    /// Remembers that `peer` holds a sibling of piece `id` (bounded: the
    /// oldest entries go first).
    fn keep_apart(&self, id: ShardId, peer: PeerId) {
        let mut m = self.apart.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, at| at.elapsed() < APART_FOR);
        if m.len() >= APART_MAX {
            if let Some(oldest) = m.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k) {
                m.remove(&oldest);
            }
        }
        m.insert((id, peer), Instant::now());
    }

    /// Whether `peer` said lately that it holds a sibling of piece `id`.
    pub(super) fn kept_apart(&self, id: &ShardId, peer: &PeerId) -> bool {
        self.apart
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(*id, *peer))
            .is_some_and(|at| at.elapsed() < APART_FOR)
    }

    fn cfg(&self) -> RepairConfig {
        let mut c = self.cfg.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if self.urgent.load(Ordering::Relaxed) {
            c.quarantine_grace = Duration::ZERO;
        }
        c
    }

    /// The emergency reclaim says whether it is still over its threshold
    /// after pruning what no lease wants: then quarantined copies (surplus
    /// that repair set aside) are purged as soon as the copies elsewhere
    /// pass a proof, instead of after `--quarantine-grace`. That frees space
    /// without moving placement (shedding by radius does that, past 100%).
    pub fn set_urgent(&self, on: bool) {
        let was = self.urgent.swap(on, Ordering::Relaxed);
        if on && !was {
            tracing::warn!("storage over the reclaim threshold: quarantined copies are purged without their grace, on proofs");
            self.kick();
        } else if was && !on {
            tracing::info!("storage below the reclaim threshold: quarantined copies wait out their grace again");
        }
    }

    /// Asks for a scan now (membership changed, or an operator said so).
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    pub fn status(
        &self,
        store: &Store,
        draining: bool,
        audits: crate::audit::AuditCounters,
    ) -> RepairStatus {
        let cfg = self.cfg();
        let queue = store.transfers().unwrap_or_default();
        let queued_bytes: u64 = queue.iter().map(|(_, _, j)| j.size as u64).sum();
        let (mut local_shards, mut quarantined) = (0, 0);
        let _ = store.for_each_meta(|_, m| {
            match m.state {
                shardnet_store::ShardState::Healthy => local_shards += 1,
                shardnet_store::ShardState::Quarantined => quarantined += 1,
                shardnet_store::ShardState::Corrupted => {}
            }
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
            purged: self.purged.load(Ordering::Relaxed),
            draining,
            local_shards,
            quarantined,
            eta_secs: (cfg.bandwidth > 0).then(|| queued_bytes as f64 / cfg.bandwidth as f64),
            last_scan: self
                .last_scan
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            audits,
            handoff_waits_until: None,
        }
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
        let window_open = net.live.window_open();
        let mut started = 0;
        for (key, due, job) in queue {
            if started == free {
                break;
            }
            // Handoff (rebalancing) waits for a maintenance window; repair
            // of missing copies never does.
            let handoff = job.reason == "handoff";
            if due > now
                || (handoff && !window_open)
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
                let bw = &net.live.bandwidth;
                bw.transfers.take(job.size as u64).await;
                match handoff {
                    true => bw.handoff.take(job.size as u64).await,
                    false => bw.repair.take(job.size as u64).await,
                }
                let result = transfer(&net, &store, &job).await;
                let _ = store.remove_transfer(&key);
                match result {
                    Ok(bytes) => {
                        repair.transfers_done.fetch_add(1, Ordering::Relaxed);
                        repair.bytes_moved.fetch_add(bytes, Ordering::Relaxed);
                        debug!(shard = %job.shard, reason = %job.reason, "copied");
                    }
                    Err(Failed::Sibling(peer)) => {
                        // Not a failure to retry: the piece stays here, and
                        // the scans look past that peer for a while.
                        info!(shard = %job.shard, %peer, "piece kept: that peer holds another piece of its stripe");
                        repair.keep_apart(job.shard, peer);
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
