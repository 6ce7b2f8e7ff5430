//! `shardnet retention extend|tier|audit` (see `crate::lifecycle`), through
//! the running node, or on the local store when none runs.

use super::backup::local;
use super::{print_json, target, Target};
use crate::cli::RetentionCommand;
use crate::datadir::DataDir;
use crate::ops::lifecycle::{ChangeReport, RetentionAudit};
use crate::output;
use serde_json::json;

pub(super) fn run(dd: &DataDir, cmd: RetentionCommand, json: bool) -> anyhow::Result<i32> {
    let t = target(dd);
    match cmd {
        RetentionCommand::Extend { id, by } => {
            let by = by.as_secs();
            let r: ChangeReport = match &t {
                Target::Daemon(c) => {
                    c.post("/v1/retention/extend", &json!({ "id": id, "by": by }))?
                }
                Target::Local => local(dd, |c| crate::ops::lifecycle::extend(c, &id, by))?,
            };
            print_change(&r, json)
        }
        RetentionCommand::Tier { id, tier } => {
            let r: ChangeReport = match &t {
                Target::Daemon(c) => {
                    c.post("/v1/retention/tier", &json!({ "id": id, "tier": tier }))?
                }
                Target::Local => local(dd, |c| crate::ops::lifecycle::set_tier(c, &id, tier))?,
            };
            print_change(&r, json)
        }
        RetentionCommand::Audit { warn } => {
            let days = warn.as_secs() / 86_400;
            let r: RetentionAudit = match &t {
                Target::Daemon(c) => {
                    c.post("/v1/retention/audit", &json!({ "warn_days": days }))?
                }
                Target::Local => local(dd, |c| crate::ops::lifecycle::audit(c, days))?,
            };
            print_audit(&r, json)
        }
    }
}

fn print_change(r: &ChangeReport, json: bool) -> anyhow::Result<i32> {
    let failed = r.holders.iter().any(|h| h.failed > 0);
    if json {
        print_json(r)?;
    } else {
        println!(
            "backup {} ({}): {} until {} -> {} until {}",
            r.backup,
            r.name,
            r.from_tier,
            output::time(r.from_expiry),
            r.to_tier,
            output::time(r.to_expiry)
        );
        println!(
            "  shards: {} referenced, {} with the new lease on a holder, {} kept at their lease (shared with other backups)",
            r.shards, r.updated, r.kept_shared
        );
        println!("  catalogue: {}", r.catalogue);
        super::backup::print_holders(&r.holders, "UPDATED");
    }
    Ok(if failed { super::EXIT_INCOMPLETE } else { 0 })
}

fn print_audit(r: &RetentionAudit, json: bool) -> anyhow::Result<i32> {
    let warned = r.backups.iter().any(|b| !b.warnings.is_empty());
    if json {
        print_json(r)?;
    } else {
        let rows: Vec<Vec<String>> = r
            .backups
            .iter()
            .map(|b| {
                vec![
                    b.backup.to_string()[..12].to_string(),
                    b.name.clone(),
                    b.tier.to_string(),
                    output::time(b.expires_at),
                    b.days_left.to_string(),
                    b.state.clone(),
                    format!(
                        "{}/{}",
                        b.proven_min.map_or("-".to_string(), |c| c.to_string()),
                        b.copies_target
                    ),
                    b.below_target.to_string(),
                ]
            })
            .collect();
        output::table(
            &[
                "BACKUP",
                "NAME",
                "TIER",
                "EXPIRES",
                "DAYS",
                "STATE",
                "MIN COPIES",
                "BELOW",
            ],
            &rows,
        );
        for b in &r.backups {
            for w in &b.warnings {
                println!("warning: {} ({}): {w}", b.backup, b.name);
            }
        }
        println!(
            "held here past expiry: {} shards, {} (`shardnet prune plan --class expired --class orphaned`)",
            r.expired_held_shards,
            output::size(r.expired_held_bytes)
        );
    }
    Ok(if warned { 1 } else { 0 })
}
