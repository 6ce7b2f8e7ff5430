//! What a repair scan leaves behind once it has decided: the queue made
//! durable, the plan kept for `repair status`, a log line, and a rebalance
//! announcement on gossip when the plan changed.

use super::shed::load_report;
use super::{Plan, Repair, ANNOUNCE_EVERY};
use crate::distribute::Net;
use shardnet_store::Store;
use std::time::Instant;
use tracing::{info, warn};

/// Persists, records and announces `plan` (with `apply`; a dry run only
/// gets its ETA and the swarm's load).
pub(super) async fn finish(
    net: &Net,
    store: &Store,
    repair: &Repair,
    apply: bool,
    plan: &mut Plan,
) {
    if apply && (!plan.moves.is_empty() || !plan.removals.is_empty() || !plan.purged.is_empty()) {
        // The queue and state changes survive a crash from here on (writes
        // skip the WAL).
        if let Err(e) = store.flush() {
            warn!("cannot persist the transfer queue: {e}");
        }
    }
    let bw = repair.cfg().bandwidth;
    let total = plan.repair_bytes + plan.handoff_bytes;
    plan.eta_secs = (bw > 0).then(|| total as f64 / bw as f64);
    // Every peer's load is for the operator's plan only: a scan that
    // applies runs every few seconds on every node, and listing the view
    // for it cost more than the scan at 100 nodes.
    if apply {
        plan.churn = net.view.not_live_share();
    } else {
        (plan.load, plan.churn) = load_report(net);
    }
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
}
