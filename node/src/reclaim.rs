//! Emergency reclaim: a node whose store passes 95% of `--capacity`, or whose
//! disk passes 95%, frees space by itself before it runs out.
//!
//! Each check plans a prune of the copies no live lease wants (expired, then
//! orphaned, largest first: `protocol::reclaim::pick`) for just the bytes
//! that bring it back to 90%, runs the plan as a prune job, and purges the
//! job at once: the grace that quarantine gives to live data is not owed
//! to copies whose every owner let them go, and a full disk fails every
//! store. What is still over after that is the shedding's: a node above its
//! capacity narrows its storage radius and hands the farthest copies off,
//! each dropped only once its copies are proven elsewhere (repair scan).
//!
//! Redundant copies are reclaimed through repair: the repair scan
//! quarantines surplus copies (with proofs), and while this check is still
//! over its threshold it has repair purge them without waiting out their
//! grace (`Repair::set_urgent`). A reclaim that took live copies itself,
//! down to 90%, fought the shedding, which fills a node to 100% of its
//! capacity: the node shed to 8.3 MB and then took copies back to 10.2 MB
//! (tests/e2e_churn.rs). Shedding is tier-blind on purpose: peers
//! find copies from a node's announced radius, which a bronze-first handoff
//! would no longer describe.
//!
//! While the node is over the threshold an alert shows in `node status`
//! and the log; it clears after two checks in a row find it below.

use crate::prune::{self, PlanFilter, PruneError};
use crate::storage::Usage;
use serde::{Deserialize, Serialize};
use shardnet_protocol::prune::Class;
use shardnet_protocol::reclaim::{self, Fill};
use shardnet_store::Store;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use tracing::{info, warn};

/// An alert raised by the reclaim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub since: u64,
    pub message: String,
}

/// The reclaim's state, shared with the status API.
#[derive(Default)]
pub struct Reclaim {
    alert: Mutex<Option<Alert>>,
    /// Checks in a row that found the node below the threshold.
    calm: Mutex<u32>,
}

/// What one check did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Bytes it had to free (0: below the threshold).
    pub need: u64,
    /// The prune job it ran, if any.
    pub jobs: Vec<u64>,
    pub freed: u64,
}

/// Used and total bytes of the file system holding `path` (0, 0 if unknown).
pub fn disk(path: &Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (0, 0);
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed out-parameter of the right type.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return (0, 0);
    }
    let frsize = st.f_frsize as u64;
    let total = st.f_blocks as u64 * frsize;
    let free = st.f_bfree as u64 * frsize;
    (total.saturating_sub(free), total)
}

/// How full the node is now.
pub fn fill(store: &Store, usage: &Usage, capacity: u64) -> Fill {
    let (disk_used, disk_total) = disk(store.path());
    Fill {
        used: usage.used.load(Ordering::Relaxed),
        capacity,
        disk_used,
        disk_total,
    }
}

/// Bytes of live shards one segment reclaim pass moves at most (the disk
/// is shared with backups and peers; the next pass goes on).
pub const SEGMENT_RECLAIM_BYTES: u64 = 1 << 30;

/// One check: plans, runs and purges a reclaim when the node is over the
/// threshold.
pub fn check(store: &Store, usage: &Usage, f: &Fill, now: u64) -> Result<Outcome, PruneError> {
    let Some(need) = reclaim::need(f, reclaim::THRESHOLD, reclaim::TARGET) else {
        return Ok(Outcome::default());
    };
    let filter = PlanFilter {
        reclaim: Some(need),
        ..Default::default()
    };
    let plan = prune::plan(
        store,
        &[Class::Expired, Class::Orphaned],
        &filter,
        None,
        now,
    )?;
    if plan.entries.is_empty() {
        return Ok(Outcome {
            need,
            ..Default::default()
        });
    }
    let job = prune::run(store, &plan, None, false, now)?;
    let (job, gone) = prune::purge(store, job.id, None, now)?;
    usage.sub_purged(&gone);
    // The purged copies' space returns to the disk only with whole
    // segments: move the live records out of the ones it left sparse now,
    // not at the next periodic pass.
    if let Err(e) = store.reclaim_segments(SEGMENT_RECLAIM_BYTES) {
        tracing::warn!("reclaiming sparse segments after the purge failed: {e}");
    }
    Ok(Outcome {
        need,
        jobs: vec![job.id],
        freed: job.purged_bytes,
    })
}

impl Reclaim {
    pub fn alert(&self) -> Option<Alert> {
        self.alert.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn raise(&self, f: &Fill, o: &Outcome, now: u64) {
        let mut a = self.alert.lock().unwrap_or_else(|p| p.into_inner());
        *self.calm.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        let message = format!(
            "storage at {:.1}% (threshold {:.0}%): emergency reclaim {}",
            f.ratio() * 100.0,
            reclaim::THRESHOLD * 100.0,
            if o.jobs.is_empty() {
                format!(
                    "found nothing expired or orphaned to free ({} needed): quarantined surplus copies are purged without their grace, and copies are handed off once the node is over its capacity",
                    crate::output::size(o.need)
                )
            } else {
                let jobs: Vec<String> = o.jobs.iter().map(u64::to_string).collect();
                format!(
                    "freed {} of {} needed (prune job {})",
                    crate::output::size(o.freed),
                    crate::output::size(o.need),
                    jobs.join(", ")
                )
            }
        );
        warn!("{message}");
        let since = a.as_ref().map_or(now, |x| x.since);
        *a = Some(Alert { since, message });
    }

    fn calm_down(&self) {
        let mut calm = self.calm.lock().unwrap_or_else(|p| p.into_inner());
        *calm += 1;
        let mut a = self.alert.lock().unwrap_or_else(|p| p.into_inner());
        if *calm >= 2 && a.is_some() {
            info!("storage back below the reclaim threshold: alert cleared");
            *a = None;
        }
    }

    /// Takes one check's outcome: raises (or keeps) the alert while the
    /// node is over the threshold, clears it after two checks below.
    pub fn observe(&self, f: &Fill, o: &Outcome, now: u64) {
        if o.need > 0 {
            self.raise(f, o, now);
        } else {
            self.calm_down();
        }
    }
}
