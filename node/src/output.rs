//! Human output helpers: sizes, times, tables and progress bars. `--json` output
//! never goes through here; progress goes to stderr only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `1.5 MiB`-style size.
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// RFC 3339 UTC time of unix seconds.
pub fn time(unix: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.min(i32::MAX as u64 * 2));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Seconds this process's clock runs ahead (`node run --clock-offset`).
static CLOCK_OFFSET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs this process's clock ahead by `secs`, for expiry drills and tests:
/// leases, retention and catalogue sequence numbers all read [`now_unix`].
pub fn set_clock_offset(secs: u64) {
    CLOCK_OFFSET.store(secs, std::sync::atomic::Ordering::Relaxed);
}

/// Seconds this process's clock runs ahead.
pub fn clock_offset() -> u64 {
    CLOCK_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Unix seconds now, by this process's clock (see [`set_clock_offset`]).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_add(clock_offset())
}

/// MB/s (10^6 bytes per second, as disk and network figures are quoted).
pub fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

/// A byte-progress bar on stderr; invisible when stderr is not a terminal.
pub fn byte_bar(total: u64, msg: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(msg);
    bar
}

/// Prints rows as a left-aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<w$}", c, w = widths[i]))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect());
    }
}

/// Prints `v` as pretty JSON on stdout: the `--json` form of every listing.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
