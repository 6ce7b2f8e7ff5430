//! `shardnet shards list|verify`: the local store's shards.

use super::local;
use super::{print_json, target, Target};
use crate::cli::ShardsCommand;
use crate::datadir::DataDir;
use crate::ops::{self, ShardRow};
use crate::output;
use serde_json::json;

pub(crate) fn shards(dd: &DataDir, cmd: ShardsCommand, json: bool) -> anyhow::Result<i32> {
    let status = match cmd {
        ShardsCommand::List { status } => status,
        ShardsCommand::Verify { ids } => return shards_verify(dd, ids, json),
    };
    let rows: Vec<ShardRow> = match target(dd) {
        Target::Daemon(c) => c.post("/v1/shards", &json!({ "status": status }))?,
        Target::Local => local(dd, |c| ops::shards_list(c.store, status))?,
    };
    if json {
        print_json(&rows)?;
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                output::size(r.meta.size as u64),
                r.meta.state.to_string(),
                output::time(r.meta.stored_at),
                r.meta.leases.len().to_string(),
                shardnet_protocol::lease::latest_expiry(&r.meta.leases)
                    .map(output::time)
                    .unwrap_or_else(|| "-".into()),
                r.retention.name().into(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "SIZE",
            "STATUS",
            "STORED",
            "LEASES",
            "EXPIRES",
            "RETENTION",
        ],
        &table,
    );
    let bytes: u64 = rows.iter().map(|r| r.meta.size as u64).sum();
    eprintln!("{} shards, {}", rows.len(), output::size(bytes));
    Ok(0)
}

pub(super) fn shards_verify(
    dd: &DataDir,
    ids: Vec<shardnet_protocol::ShardId>,
    json: bool,
) -> anyhow::Result<i32> {
    let rows: Vec<ops::VerifyRow> = match target(dd) {
        Target::Daemon(c) => c.post("/v1/shards/verify", &json!({ "ids": ids }))?,
        Target::Local => local(dd, |c| ops::shards_verify(c.store, &ids))?,
    };
    let bad = rows.iter().filter(|r| !r.ok).count();
    if json {
        print_json(&rows)?;
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.state.map_or("absent".into(), |s| s.to_string()),
                    if r.ok { "ok".into() } else { "BAD".into() },
                    r.detail.clone(),
                ]
            })
            .collect();
        output::table(&["ID", "STATE", "CHECK", "DETAIL"], &table);
        eprintln!("{} shards checked, {bad} bad (marked corrupted; repair replaces them from healthy copies)", rows.len());
    }
    Ok(if bad > 0 { 1 } else { 0 })
}
