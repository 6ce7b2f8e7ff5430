//! `shardnet bench`: throughput of backup and restore, on one node and through
//! a swarm of real node processes, printed next to this machine's own limits
//! measured in the same run, plus repair after a kill (`--churn`) and the cost
//! of grinding ids against placement (`--sybil`). Nothing here is asserted: it
//! is a measurement for people (see FIELD-NOTES.md for the targets).
//!
//! The bench depends on the node's operations (backup, restore, the daemon
//! binary, placement); nothing outside this module depends on it.

mod churn;
mod data;
mod integrity;
mod limits;
mod local;
mod swarm;
mod sybil;

use crate::cli::BenchArgs;
use crate::output;
use std::fs;

/// Bytes pushed through each primitive when measuring the limits.
const LIMIT_BYTES: usize = 512 << 20;
const BUF: usize = 1 << 20;

/// One figure of any throughput mode (`--json` prints the same shape for
/// every mode, so scripts can compare runs).
#[derive(Debug, serde::Serialize)]
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) bytes: u64,
    pub(crate) mb_per_s: f64,
    /// The limit the share is of, measured in the same run.
    pub(crate) limit: String,
    /// Percentage of that limit.
    pub(crate) share_of_limit_pct: f64,
    pub(crate) peak_rss_mib: Option<f64>,
    /// CPU seconds (user + system, every thread of this process, RocksDB's
    /// included) per GB of `bytes`: with the wall rate, how busy the cores were.
    pub(crate) cpu_s_per_gb: Option<f64>,
    pub(crate) note: String,
}

/// The single-node figures' limit.
pub(crate) const AES_LIMIT: &str = "AES-256-GCM, 1 core";

pub(super) fn run(args: &BenchArgs, json: bool) -> anyhow::Result<i32> {
    let tmp;
    let work = match &args.dir {
        Some(d) => {
            fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("shardnet-bench-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let size = args.size.as_u64();
    if args.churn > 0 {
        churn::report(&work, size, args.churn, json)?;
    } else if !args.sybil.is_empty() {
        sybil::report(&args.sybil, json)?;
    } else if args.swarm > 0 {
        swarm::report(&work, size, (args.swarm, args.redundancy), json)?;
    } else {
        local::report(&work, size, args.big_file.as_u64(), json)?;
    }
    Ok(0)
}

/// Prints `rows` as JSON (`{mode, threads, rows}` plus `extra`'s fields) or
/// as a table under `title`; the peak RSS column only when some row has one.
fn print_rows(
    mode: &str,
    extra: serde_json::Value,
    title: &str,
    rows: &[Row],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::json!({
            "mode": mode,
            "threads": rayon::current_num_threads(),
            "rows": rows,
        });
        if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        return output::print_json(&v);
    }
    let rss = rows.iter().any(|r| r.peak_rss_mib.is_some());
    let cpu = rows.iter().any(|r| r.cpu_s_per_gb.is_some());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.what.clone(),
                output::size(r.bytes),
                format!("{:.0}", r.mb_per_s),
                format!("{:.0}% of {}", r.share_of_limit_pct, local::short(&r.limit)),
            ];
            if rss {
                row.push(
                    r.peak_rss_mib
                        .map(|m| format!("{m:.0}"))
                        .unwrap_or_default(),
                );
            }
            if cpu {
                row.push(
                    r.cpu_s_per_gb
                        .map(|c| format!("{c:.2}"))
                        .unwrap_or_default(),
                );
            }
            row.push(r.note.clone());
            row
        })
        .collect();
    println!("{title}");
    let mut header = vec!["OPERATION", "BYTES", "MB/S", "OF THE LIMIT"];
    if rss {
        header.push("PEAK RSS MiB");
    }
    if cpu {
        header.push("CPU-S/GB");
    }
    header.push("NOTE");
    output::table(&header, &table);
    Ok(())
}
