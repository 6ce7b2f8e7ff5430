//! `shardnet shards list`.

use crate::cli::{ShardsCommand, StatusFilter};
use crate::datadir::DataDir;
use crate::output;
use shardnet_protocol::lease;
use shardnet_protocol::ShardId;
use shardnet_store::ShardMeta;

#[derive(serde::Serialize)]
struct Row {
    id: ShardId,
    #[serde(flatten)]
    meta: ShardMeta,
    expired: bool,
}

pub(super) fn run(dd: &DataDir, cmd: ShardsCommand, json: bool) -> anyhow::Result<i32> {
    let ShardsCommand::List { status } = cmd;
    let store = dd.open_store()?;
    let now = output::now_unix();
    let mut rows = Vec::new();
    store.for_each_meta(|id, meta| {
        let expired = lease::latest_expiry(&meta.leases).is_none_or(|e| e <= now);
        let keep = match status {
            None => true,
            Some(StatusFilter::State(s)) => meta.state == s,
            Some(StatusFilter::Expired) => expired,
        };
        if keep {
            rows.push(Row { id, meta, expired });
        }
        true
    })?;
    if json {
        super::print_json(&rows)?;
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
                lease::latest_expiry(&r.meta.leases)
                    .map(output::time)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(
        &["ID", "SIZE", "STATUS", "STORED", "LEASES", "EXPIRES"],
        &table,
    );
    let bytes: u64 = rows.iter().map(|r| r.meta.size as u64).sum();
    eprintln!("{} shards, {}", rows.len(), output::size(bytes));
    Ok(0)
}
