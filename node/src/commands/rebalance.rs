//! `shardnet rebalance plan|run|status|pause|resume` and `shardnet node drain`.

use super::print_json;
use crate::api::client::ApiClient;
use crate::cli::RebalanceCommand;
use crate::output;
use crate::repair::{Plan, RepairStatus};
use serde_json::json;
use std::time::{Duration, Instant};

fn print_plan(p: &Plan, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(p)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = p
        .moves
        .iter()
        .map(|m| {
            vec![
                m.shard.short(),
                m.reason.clone(),
                output::size(m.bytes),
                short_peer(&m.to),
            ]
        })
        .collect();
    if !rows.is_empty() {
        output::table(&["SHARD", "REASON", "BYTES", "TO"], &rows);
        println!();
    }
    println!(
        "{} local shards: {} moves ({} repair, {} handoff), {} redundant copies to remove, {} below target ({} waiting for silent holders), {} blocked (too few live peers)",
        p.shards,
        p.moves.len(),
        output::size(p.repair_bytes),
        output::size(p.handoff_bytes),
        p.removals.len(),
        p.below_target,
        p.waiting_for_silent,
        p.blocked
    );
    if let Some(eta) = p.eta_secs {
        println!("estimated time at the bandwidth limit: {eta:.0} s");
    }
    println!(
        "churn: {:.0}% of known peers not live (threshold {:.0}%){}",
        p.churn * 100.0,
        p.churn_threshold * 100.0,
        if p.churn > p.churn_threshold {
            "  ABOVE THRESHOLD"
        } else {
            ""
        }
    );
    let load: Vec<Vec<String>> = p
        .load
        .iter()
        .map(|l| {
            vec![
                short_peer(&l.peer),
                l.zone.clone(),
                output::size(l.used),
                output::size(l.capacity),
                format!("{:+.0}%", l.deviation_pct),
                l.level.clone(),
            ]
        })
        .collect();
    println!();
    output::table(
        &[
            "PEER",
            "ZONE",
            "USED",
            "CAPACITY",
            "VS MEAN",
            "LOAD (warn >20%, act >35%)",
        ],
        &load,
    );
    Ok(0)
}

fn short_peer(p: &str) -> String {
    p.get(p.len().saturating_sub(10)..)
        .map(|s| format!("…{s}"))
        .unwrap_or_else(|| p.to_string())
}

fn print_status(s: &RepairStatus, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(s)?;
        return Ok(0);
    }
    println!(
        "{}{}queued {} ({}), in flight {}, done {} ({} moved), failures {}, redundant copies removed {}, local shards {}",
        if s.paused { "PAUSED  " } else { "" },
        if s.draining { "DRAINING  " } else { "" },
        s.queued,
        output::size(s.queued_bytes),
        s.in_flight,
        s.transfers_done,
        output::size(s.bytes_moved),
        s.failures,
        s.removed,
        s.local_shards
    );
    if let Some(at) = s.handoff_waits_until {
        println!(
            "handoff waits for the maintenance window opening {} (repair does not wait)",
            output::time(at)
        );
    }
    if s.quarantined > 0 || s.purged > 0 {
        println!(
            "quarantine: {} copies held back, {} purged",
            s.quarantined, s.purged
        );
    }
    let a = &s.audits;
    if a.rounds > 0 {
        println!(
            "audits: {} rounds, {} proofs passed, {} failed, {} timed out ({} while this node lagged), {} busy; peers read {}, this node read {}",
            a.rounds,
            a.proofs_passed,
            a.proofs_failed,
            a.timeouts,
            a.timeouts_excused,
            a.busy,
            output::size(a.bytes_challenged),
            output::size(a.bytes_checked)
        );
    }
    if let Some(eta) = s.eta_secs {
        println!("ETA at the bandwidth limit: {eta:.0} s");
    }
    Ok(0)
}

pub(super) fn run(c: &ApiClient, cmd: RebalanceCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        RebalanceCommand::Plan { churn_threshold } => {
            let p: Plan = c.post(
                "/v1/rebalance/plan",
                &json!({ "churn_threshold": churn_threshold }),
            )?;
            print_plan(&p, json)
        }
        RebalanceCommand::Run { parallel, dry_run } => {
            let p: Plan = c.post(
                "/v1/rebalance/run",
                &json!({ "parallel": parallel, "dry_run": dry_run }),
            )?;
            if !dry_run && !json {
                println!("queued; follow with `shardnet rebalance status`");
            }
            print_plan(&p, json)
        }
        RebalanceCommand::Status => print_status(&c.get("/v1/rebalance/status")?, json),
        RebalanceCommand::Pause => print_status(&c.post("/v1/rebalance/pause", &json!({}))?, json),
        RebalanceCommand::Resume => {
            print_status(&c.post("/v1/rebalance/resume", &json!({}))?, json)
        }
    }
}

/// Starts a drain and (unless `no_wait`) waits until the node holds nothing.
pub(super) fn drain(c: &ApiClient, no_wait: bool, timeout: u64, json: bool) -> anyhow::Result<i32> {
    let mut s: RepairStatus = c.post("/v1/node/drain", &json!({}))?;
    let start = Instant::now();
    while !no_wait && s.local_shards > 0 {
        if start.elapsed() > Duration::from_secs(timeout) {
            eprintln!("drain still running after {timeout} s: {} shards left (see `shardnet rebalance status`)", s.local_shards);
            print_status(&s, json)?;
            return Ok(1);
        }
        if !json {
            eprint!(
                "\rdraining: {} shards left, {} moved   ",
                s.local_shards,
                output::size(s.bytes_moved)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
        s = c.get("/v1/rebalance/status")?;
    }
    if !json {
        eprintln!();
        if s.local_shards == 0 {
            println!(
                "drained: every shard is confirmed on its new holders; this node may be stopped"
            );
        }
    }
    print_status(&s, json)
}
