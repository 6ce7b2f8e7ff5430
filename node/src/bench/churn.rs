//! `shardnet bench --churn N`: repair figures on a local swarm of N node
//! processes. Backs up `--size` at tier silver, waits for exact redundancy,
//! `kill -9`s one node, and measures the time until every shard is back at its
//! copy count on live nodes, the repair traffic per byte lost, and the spread
//! of utilisation across the surviving nodes.

use super::procs::LocalSwarm;
use super::Row;
use crate::ops::{CreateRequest, ShardRow};
use crate::output;
use crate::repair::RepairStatus;
use anyhow::bail;
use serde_json::json;
use shardnet_protocol::{lease, Cipher, Tier};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Node to kill (0-based): not the one that made the backup.
const VICTIM: usize = 2;

/// shard → (live holders, wanted); and bytes held per node.
/// shard id → (live holders, copies wanted).
type Holders = HashMap<String, (usize, usize)>;

fn census(sw: &LocalSwarm, dead: &[usize]) -> anyhow::Result<(Holders, Vec<u64>)> {
    let mut m: HashMap<String, (usize, usize)> = HashMap::new();
    let mut used = Vec::new();
    for (i, c) in sw.clients.iter().enumerate() {
        if dead.contains(&i) {
            continue;
        }
        let rows: Vec<ShardRow> = c.post("/v1/shards", &json!({ "status": null }))?;
        used.push(rows.iter().map(|r| r.meta.size as u64).sum());
        for r in rows {
            let e = m.entry(r.id.to_string()).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(lease::copies_wanted(&r.meta.leases, 0));
        }
    }
    Ok((m, used))
}

fn wait_exact(
    sw: &LocalSwarm,
    dead: &[usize],
    shards: usize,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let (m, _) = census(sw, dead)?;
        if m.len() == shards && m.values().all(|(h, w)| h == w) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            bail!("not back to full redundancy within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The churn bench's figures.
pub(super) fn run(work: &Path, size: u64, nodes: usize) -> anyhow::Result<Vec<Row>> {
    if nodes < 5 {
        bail!("--churn needs at least 5 nodes");
    }
    eprintln!("starting {nodes} nodes (down after 5 s)...");
    let mut sw = LocalSwarm::start(
        work,
        nodes,
        &[
            "--down-after",
            "5",
            "--patience-max",
            "5",
            "--scan-interval",
            "2",
        ],
    )?;
    eprintln!("backing up {} at silver...", output::size(size));
    let src = work.join("churn-data");
    super::data::generate(&src, size, false, 64 << 20)?;
    let req = CreateRequest {
        paths: vec![src.clone()],
        tier: Tier::Silver,
        name: "churn bench".into(),
        cipher: Cipher::Aes256Gcm,
        redundancy: None,
    };
    let _: crate::backup::BackupReport = sw.clients[0].post("/v1/backup/create", &req)?;
    let (m, _) = census(&sw, &[])?;
    let shards = m.len();
    wait_exact(&sw, &[], shards, Duration::from_secs(120))?;
    let (_, used_before) = census(&sw, &[])?;
    let nodes_before: Vec<usize> = (0..nodes).collect();
    let lost: u64 = {
        let rows: Vec<ShardRow> =
            sw.clients[VICTIM].post("/v1/shards", &json!({ "status": null }))?;
        rows.iter().map(|r| r.meta.size as u64).sum()
    };
    let moved_before: u64 = sw
        .clients
        .iter()
        .filter_map(|c| c.get::<RepairStatus>("/v1/rebalance/status").ok())
        .map(|s| s.bytes_moved)
        .sum();
    eprintln!(
        "kill -9 node {} holding {}...",
        VICTIM + 1,
        output::size(lost)
    );
    sw.kill(VICTIM);
    let dead = [VICTIM];
    let took = wait_exact(&sw, &dead, shards, Duration::from_secs(600))?;
    let moved: u64 = sw
        .clients
        .iter()
        .enumerate()
        .filter(|(i, _)| !dead.contains(i))
        .filter_map(|(_, c)| c.get::<RepairStatus>("/v1/rebalance/status").ok())
        .map(|s| s.bytes_moved)
        .sum::<u64>()
        - moved_before;
    let (_, used) = census(&sw, &dead)?;
    let live: Vec<usize> = (0..nodes).filter(|i| !dead.contains(i)).collect();
    let _ = std::fs::remove_dir_all(&src);
    sw.remove();
    let secs = took.as_secs_f64();
    Ok(vec![
        Row::figure(
            "data backed up",
            shards as f64,
            "shards",
            format!("tier silver, {nodes} nodes in 3 zones"),
        )
        .of_bytes(size),
        Row::figure(
            "bytes lost with the killed node",
            100.0 * lost as f64 / size.max(1) as f64,
            "% of the data",
            format!("node {} of {nodes}", VICTIM + 1),
        )
        .of_bytes(lost),
        Row::figure(
            "time from kill -9 to full redundancy",
            secs,
            "s",
            format!(
                "includes the 5 s down-after (default 300 s); {:.0} MB/s of lost bytes rebuilt",
                lost as f64 / 1e6 / secs.max(f64::MIN_POSITIVE)
            ),
        ),
        Row::figure(
            "repair traffic",
            moved as f64 / lost.max(1) as f64,
            "bytes copied per byte lost",
            "",
        )
        .of_bytes(moved),
        spread_row("before the kill", &used_before, &nodes_before),
        spread_row("after repair", &used, &live),
    ])
}

/// Utilisation spread over the nodes `who` (bytes `used` each, in order),
/// and the largest deviation from the mean of a node's own zone (the bench's
/// nodes are in zones `i % 3`, and zone spread gives each zone one copy of
/// every shard whatever its size, so the zones' means differ by design).
fn spread_row(when: &str, used: &[u64], who: &[usize]) -> Row {
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    let all = mean(used);
    let (min, max) = (
        used.iter().min().copied().unwrap_or(0),
        used.iter().max().copied().unwrap_or(0),
    );
    let mut within = 0f64;
    for z in 0..3 {
        let of_zone: Vec<u64> = who
            .iter()
            .zip(used)
            .filter(|(i, _)| *i % 3 == z)
            .map(|(_, u)| *u)
            .collect();
        let m = mean(&of_zone);
        for u in &of_zone {
            if m > 0.0 {
                within = within.max((*u as f64 / m - 1.0).abs());
            }
        }
    }
    Row::figure(
        format!("utilisation spread {when}"),
        if all > 0.0 {
            (max - min) as f64 / all * 100.0
        } else {
            0.0
        },
        "%",
        format!(
            "(max - min) / mean over {} live nodes: min {}, max {}, mean {}; within zones ±{:.0}%",
            used.len(),
            output::size(min),
            output::size(max),
            output::size(all as u64),
            within * 100.0
        ),
    )
}

/// Runs the churn bench and prints its figures (a table, or JSON).
pub(crate) fn report(work: &Path, size: u64, nodes: usize, json: bool) -> anyhow::Result<()> {
    let rows = run(work, size, nodes)?;
    let title = format!("shardnet bench --churn {nodes}: real node processes on 127.0.0.1");
    super::print_rows(
        "churn",
        serde_json::json!({ "nodes": nodes }),
        &title,
        &rows,
        json,
    )
}
