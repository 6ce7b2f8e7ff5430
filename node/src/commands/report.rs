//! `shardnet report daily|weekly [--json|--html]`.

use super::print_json;
use crate::cli::ReportArgs;
use crate::datadir::DataDir;
use crate::output::{size, time};
use shardnet_protocol::report::Report;

pub(super) fn run(dd: &DataDir, a: ReportArgs, json: bool) -> anyhow::Result<i32> {
    let r: Report = super::node::daemon(dd)?.post(
        "/v1/report",
        &serde_json::json!({ "period": a.period.name(), "days": a.period.days() }),
    )?;
    if json {
        print_json(&r)?;
    } else if a.html {
        print!("{}", crate::api::report::html(&r));
    } else {
        println!(
            "shardnet {} report, {} to {}",
            r.period,
            time(r.from),
            time(r.to)
        );
        println!(
            "uptime      {:.1}% ({} samples, {} restarts)",
            r.uptime * 100.0,
            r.samples,
            r.restarts
        );
        println!(
            "backups     {} made, {} deleted; {} backed up, {} restored",
            r.backups_made,
            r.backups_deleted,
            size(r.backup_bytes),
            size(r.restore_bytes)
        );
        println!(
            "stored      {} -> {} of {} ({} shards)",
            size(r.stored_start),
            size(r.stored_end),
            size(r.capacity),
            r.shards_end
        );
        println!(
            "repair      {} copies sent ({}), {} failed",
            r.repairs,
            size(r.repair_bytes),
            r.repair_failures
        );
        println!(
            "prune       {} quarantined, {} purged, {} rolled back",
            r.quarantined, r.purged, r.rolled_back
        );
        println!(
            "corruption  {} found, {} repaired",
            r.corruption_found, r.corrupted_repaired
        );
        println!(
            "proofs      {} passed, {} failed",
            r.proofs_passed, r.proofs_failed
        );
        println!(
            "peers       {} joined, {} left, {} to {} live",
            r.peers_joined, r.peers_left, r.live_peers_min, r.live_peers_max
        );
        for n in &r.notes {
            println!("note: {n}");
        }
    }
    Ok(0)
}
