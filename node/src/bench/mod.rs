//! `shardnet bench`: throughput of backup and restore, on one node and through
//! a swarm of real node processes, printed next to this machine's own limits
//! measured in the same run, plus repair after a kill (`--churn`) and the cost
//! of grinding ids against placement (`--sybil`). Nothing here is asserted: it
//! is a measurement for people (see FIELD-NOTES.md for the targets).
//!
//! The bench depends on the node's operations (backup, restore, the daemon
//! binary, placement); nothing outside this module depends on it.

mod bound;
mod churn;
mod data;
mod integrity;
mod limits;
mod local;
mod procs;
mod swarm;
mod sybil;

use crate::cli::BenchArgs;
use crate::output;
use std::fs;

/// Bytes pushed through each primitive when measuring the limits.
const LIMIT_BYTES: usize = 512 << 20;
const BUF: usize = 1 << 20;

/// One figure of any mode: `--json` prints the same keys for every row of
/// every mode (absent ones as `null`), so scripts can compare runs. A
/// throughput has bytes, MB/s, its limit and the share of it; another
/// figure (a time, a ratio, ids ground) has a value and its unit.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) bytes: Option<u64>,
    pub(crate) mb_per_s: Option<f64>,
    /// The limit the share is of, measured in the same run.
    pub(crate) limit: Option<String>,
    /// Percentage of that limit.
    pub(crate) share_of_limit_pct: Option<f64>,
    /// A figure that is not a throughput, in `unit`.
    pub(crate) value: Option<f64>,
    pub(crate) unit: Option<String>,
    pub(crate) peak_rss_mib: Option<f64>,
    /// CPU seconds (user + system, every thread of this process, RocksDB's
    /// included) per GB of `bytes`: with the wall rate, how busy the cores were.
    pub(crate) cpu_s_per_gb: Option<f64>,
    pub(crate) note: String,
}

impl Row {
    /// A throughput: `bytes` at `mb_per_s`, as a share of `bound` MB/s,
    /// the figure of `limit` in the same run.
    pub(crate) fn rate(
        what: impl Into<String>,
        bytes: u64,
        mb_per_s: f64,
        (limit, bound): (&str, f64),
        note: impl Into<String>,
    ) -> Row {
        Row {
            what: what.into(),
            bytes: Some(bytes),
            mb_per_s: Some(mb_per_s),
            limit: Some(limit.into()),
            share_of_limit_pct: Some(100.0 * mb_per_s / bound.max(f64::MIN_POSITIVE)),
            value: None,
            unit: None,
            peak_rss_mib: None,
            cpu_s_per_gb: None,
            note: note.into(),
        }
    }

    /// A figure that is not a throughput: `value` in `unit`.
    pub(crate) fn figure(
        what: impl Into<String>,
        value: f64,
        unit: &str,
        note: impl Into<String>,
    ) -> Row {
        Row {
            what: what.into(),
            bytes: None,
            mb_per_s: None,
            limit: None,
            share_of_limit_pct: None,
            value: Some(value),
            unit: Some(unit.into()),
            peak_rss_mib: None,
            cpu_s_per_gb: None,
            note: note.into(),
        }
    }

    /// This row with `bytes` (a figure about an amount of data).
    pub(crate) fn of_bytes(mut self, bytes: u64) -> Row {
        self.bytes = Some(bytes);
        self
    }
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
    let rate = rows.iter().any(|r| r.mb_per_s.is_some());
    let value = rows.iter().any(|r| r.value.is_some());
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_default();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.what.clone(),
                r.bytes.map(output::size).unwrap_or_default(),
            ];
            if value {
                row.push(opt(r.value, &|v| {
                    format!("{} {}", figure(v), r.unit.as_deref().unwrap_or(""))
                }));
            }
            if rate {
                row.push(opt(r.mb_per_s, &|m| format!("{m:.0}")));
                row.push(match (&r.limit, r.share_of_limit_pct) {
                    (Some(l), Some(p)) => format!("{p:.0}% of {}", local::short(l)),
                    _ => String::new(),
                });
            }
            if rss {
                row.push(opt(r.peak_rss_mib, &|m| format!("{m:.0}")));
            }
            if cpu {
                row.push(opt(r.cpu_s_per_gb, &|c| format!("{c:.2}")));
            }
            row.push(r.note.clone());
            row
        })
        .collect();
    println!("{title}");
    let mut header = vec!["OPERATION", "BYTES"];
    if value {
        header.push("VALUE");
    }
    if rate {
        header.extend(["MB/S", "OF THE LIMIT"]);
    }
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

/// A figure with as many decimals as its size deserves.
fn figure(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// CPU time of this process so far (user + system, every thread).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
