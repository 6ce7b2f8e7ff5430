//! `shardnet audit log|verify`: the node's audit trail (`shardnet_store::audit`),
//! read through the running node, or from the store when none runs.

use super::{print_json, target, Target};
use crate::cli::AuditCommand;
use crate::datadir::DataDir;
use crate::output;
use anyhow::Context;
use shardnet_store::{AuditAction, AuditEvent, AuditFilter, ChainReport};

pub(super) fn run(dd: &DataDir, cmd: AuditCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        AuditCommand::Log {
            since,
            action,
            shard,
            limit,
        } => {
            let filter = AuditFilter {
                since: since.as_deref().map(parse_since).transpose()?,
                action: action
                    .map(|a| a.parse::<AuditAction>())
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                shard,
                limit,
            };
            let events: Vec<AuditEvent> = match target(dd) {
                Target::Daemon(c) => c.post("/v1/audit/log", &filter)?,
                Target::Local => dd.open_store()?.audit_query(&filter)?,
            };
            print_log(&events, json)?;
            Ok(0)
        }
        AuditCommand::Verify => {
            let r: ChainReport = match target(dd) {
                Target::Daemon(c) => c.get("/v1/audit/verify")?,
                Target::Local => dd.open_store()?.audit_verify()?,
            };
            print_verify(&r, json)?;
            Ok(if r.intact() { 0 } else { 1 })
        }
    }
}

/// `2h` (that long ago) or an RFC 3339 time, as unix seconds.
fn parse_since(s: &str) -> anyhow::Result<u64> {
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(output::now_unix().saturating_sub(d.as_secs()));
    }
    let t = humantime::parse_rfc3339_weak(s).with_context(|| {
        format!("--since {s:?}: give a duration ago (2h, 7d) or a time (2026-12-01T00:00:00Z)")
    })?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

fn print_log(events: &[AuditEvent], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&events);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                output::time(e.at),
                e.action.name().into(),
                e.shard
                    .map_or_else(|| "-".into(), |s| s.to_string()[..16].to_string()),
                e.detail.clone(),
            ]
        })
        .collect();
    output::table(&["SEQ", "TIME", "ACTION", "SHARD", "DETAIL"], &rows);
    eprintln!("{} events", events.len());
    Ok(())
}

fn print_verify(r: &ChainReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(r);
    }
    println!(
        "{} events, {} before the chain began",
        r.events, r.unchained
    );
    match (&r.head_seq, &r.head_hash) {
        (Some(seq), Some(h)) => println!("head: event {seq}, hash {h} (record it to check later)"),
        _ => println!("no chained events yet"),
    }
    if !r.gaps.is_empty() {
        println!(
            "{} gaps (events missing before {:?}): removed, or a write that failed",
            r.gaps.len(),
            r.gaps
        );
    }
    if r.intact() {
        println!("chain intact");
    } else {
        println!(
            "CHAIN BROKEN: events {:?} do not match their links (edited or forged)",
            r.broken
        );
    }
    Ok(())
}
