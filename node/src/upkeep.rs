//! The daemon's periodic upkeep: the owner's catalogue and pieces, the audit
//! log's retention, the space of partly dead segments, the automatic purge
//! of finished prune jobs, and the emergency reclaim. Each is a blocking job
//! run on its own schedule by [`periodic`], off the async workers, until the
//! node stops.

use crate::datadir::DataDir;
use crate::distribute::Net;
use crate::reclaim::{self, Reclaim};
use shardnet_store::Store;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// Runs the job `make` builds on a blocking thread every `period` (the
/// first at once, or after one period with `delay_first`) until `stop`, and
/// hands each success to `done`; failures are logged under `what`.
pub async fn periodic<T, E, B, M, D>(
    period: Duration,
    delay_first: bool,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
    mut make: M,
    mut done: D,
) where
    T: Send + 'static,
    E: Display + Send + 'static,
    B: FnOnce() -> Result<T, E> + Send + 'static,
    M: FnMut() -> B,
    D: FnMut(T),
{
    let mut tick = tokio::time::interval(period);
    if delay_first {
        tick.tick().await;
    }
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        match tokio::task::spawn_blocking(make()).await {
            Ok(Ok(t)) => done(t),
            Ok(Err(e)) => warn!("{what} failed: {e}"),
            Err(e) => warn!("{what} task failed: {e}"),
        }
    }
}

/// The owner's catalogue upkeep (`catalogue::maintain_catalogue`): every
/// `period`, with a majority of the slot's holders answering, publishes what
/// they lack. This repairs the record under churn and publishes backups (and
/// tombstones) whose publish found no majority.
pub async fn catalogue(
    net: Arc<Net>,
    store: Arc<Store>,
    dd: DataDir,
    period: Duration,
    stop: watch::Receiver<bool>,
) {
    let make = || {
        let (net, store, dd) = (net.clone(), store.clone(), dd.clone());
        move || {
            let master = dd.owner_key().map_err(|e| e.to_string())?;
            crate::catalogue::maintain_catalogue(&net, &store, &master)
        }
    };
    periodic(period, true, stop, "catalogue upkeep", make, |u| {
        if u != crate::catalogue::CatalogueUpkeep::InPlace {
            info!("catalogue upkeep: {u:?}");
        }
    })
    .await
}

/// The owner's pieces (`ops::rebuild`): every `period`, the chunks of its
/// live backups kept as pieces are proven, and those below their floor get
/// their missing pieces rebuilt and stored again.
pub async fn pieces(
    net: Arc<Net>,
    store: Arc<Store>,
    dd: DataDir,
    period: Duration,
    stop: watch::Receiver<bool>,
) {
    // Backups found to keep no pieces: their manifests are not loaded again.
    let copies_only = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let make = || {
        let (net, store, dd) = (net.clone(), store.clone(), dd.clone());
        let copies_only = copies_only.clone();
        move || {
            let ctx = crate::ops::Ctx {
                store: &store,
                master: dd.owner_key().map_err(|e| e.to_string())?,
                net: Some(&net),
                data_dir: dd.root().to_path_buf(),
            };
            let mut skip = copies_only.lock().unwrap_or_else(|p| p.into_inner());
            crate::ops::rebuild::rebuild_all(&ctx, &mut skip).map_err(|e| e.to_string())
        }
    };
    periodic(period, true, stop, "piece repair", make, |r| {
        if r.rebuilt_pieces > 0 || !r.unrecoverable.is_empty() || !r.failures.is_empty() {
            info!(
                stripes = r.stripes,
                rebuilt = r.rebuilt_pieces,
                unrecoverable = r.unrecoverable.len(),
                failures = r.failures.len(),
                "piece repair: {:?}",
                r.failures.first()
            );
        }
    })
    .await
}

/// The holders' side of the same (`repair::pieces`): every `period`, the
/// stripes this node holds a piece of are proven from their owners' signed
/// records, and a stripe below its floor is rebuilt by the holder of its
/// lowest-indexed proven piece, whether or not its owner is online.
pub async fn held_pieces(
    net: Arc<Net>,
    store: Arc<Store>,
    period: Duration,
    stop: watch::Receiver<bool>,
) {
    // Where the last pass stopped in the store.
    let cursor = Arc::new(std::sync::Mutex::new(None));
    let make = || {
        let (net, store, cursor) = (net.clone(), store.clone(), cursor.clone());
        move || {
            let mut at = cursor.lock().unwrap_or_else(|p| p.into_inner());
            crate::repair::pieces::pass(&net, &store, &mut at)
        }
    };
    periodic(period, true, stop, "held piece repair", make, |r| {
        if r.rebuilt_pieces > 0 || r.lost > 0 || !r.failures.is_empty() {
            info!(
                stripes = r.stripes,
                asked = r.asked,
                deferred = r.deferred,
                rebuilt = r.rebuilt_pieces,
                lost = r.lost,
                failures = r.failures.len(),
                "held piece repair: {:?}",
                r.failures.first()
            );
        }
    })
    .await
}

/// Removes audit events older than `retention`, at start and every 6 hours
/// (in bounded steps: a long-neglected log does not stall the store).
pub async fn audit_trim(store: Arc<Store>, retention: Duration, stop: watch::Receiver<bool>) {
    let make = || {
        let st = store.clone();
        let before = crate::output::now_unix().saturating_sub(retention.as_secs());
        move || st.trim_audit(before, 100_000)
    };
    periodic(
        Duration::from_secs(6 * 3600),
        false,
        stop,
        "audit log trim",
        make,
        |n| {
            if n > 0 {
                info!(events = n, "audit log trimmed to its retention");
            }
        },
    )
    .await
}

/// Gives back the space of partly dead segments (`Store::reclaim_segments`)
/// every 15 minutes, the first a period after start.
pub async fn segment_reclaim(store: Arc<Store>, stop: watch::Receiver<bool>) {
    let make = || {
        let st = store.clone();
        move || st.reclaim_segments(reclaim::SEGMENT_RECLAIM_BYTES)
    };
    periodic(
        Duration::from_secs(15 * 60),
        true,
        stop,
        "segment reclaim",
        make,
        |_| {},
    )
    .await
}

/// Purges finished prune jobs once `after` has passed since they ran,
/// checked every `every`, with this node's proofs of the copies elsewhere.
pub async fn prune_purge(
    store: Arc<Store>,
    net: Arc<Net>,
    after: Duration,
    every: Duration,
    stop: watch::Receiver<bool>,
) {
    let usage = net.usage.clone();
    let make = || {
        let (st, net, now) = (store.clone(), net.clone(), crate::output::now_unix());
        move || {
            let peers = crate::prune::peers(&net, &st);
            crate::prune::auto_purge(&st, Some(&peers), after.as_secs(), now)
        }
    };
    periodic(every, false, stop, "prune auto-purge", make, |done| {
        for (job, gone) in done {
            usage.sub_purged(&gone);
            info!(
                job = job.id,
                purged = job.purged,
                bytes = job.purged_bytes,
                "prune job purged: its rollback window is over"
            );
        }
    })
    .await
}

/// The emergency reclaim's check (`reclaim::check`) every `every`.
pub async fn reclaim(
    state: Arc<Reclaim>,
    store: Arc<Store>,
    net: Arc<Net>,
    repair: Arc<crate::repair::Repair>,
    capacity: u64,
    every: Duration,
    stop: watch::Receiver<bool>,
) {
    let make = || {
        let (st, net, now) = (store.clone(), net.clone(), crate::output::now_unix());
        move || {
            let f = reclaim::fill(&st, &net.usage, capacity);
            reclaim::check(&st, &net.usage, &f, now).map(|o| (f, o, now))
        }
    };
    periodic(
        every,
        false,
        stop,
        "emergency reclaim",
        make,
        |(f, o, now)| {
            repair.set_urgent(o.need > o.freed);
            state.observe(&f, &o, now)
        },
    )
    .await
}
