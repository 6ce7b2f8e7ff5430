//! Model runs of one scenario side by side (placements, repair policies):
//! the figures that decide between them, one column per run.

use crate::report::Report;
use std::fmt::Write;

/// Backups lost of silver and the tiers above it.
pub fn silver_and_above_lost(r: &Report) -> u64 {
    r.tiers
        .iter()
        .filter(|t| t.tier != "bronze")
        .map(|t| t.backups_lost)
        .sum()
}

/// A row: its name, and its cell from one report.
type Row = (&'static str, fn(&Report) -> String);

/// The table: one column per report.
pub fn table(reports: &[Report]) -> String {
    let mut o = String::new();
    let head: Vec<String> = reports
        .iter()
        .map(|r| format!("{} / {} / {}", r.placement, r.policy, r.redundancy))
        .collect();
    let _ = write!(o, "\n  {:<44}", "side by side");
    for h in &head {
        let _ = write!(o, " {h:>28}");
    }
    o.push('\n');
    let rows: [Row; 7] = [
        ("backups lost, silver and above", |r| {
            silver_and_above_lost(r).to_string()
        }),
        ("backups lost, all tiers", |r| {
            r.tiers
                .iter()
                .map(|t| t.backups_lost)
                .sum::<u64>()
                .to_string()
        }),
        ("repair traffic per month, of the data", |r| {
            format!("{:.1}%", r.repair_share_per_month * 100.0)
        }),
        ("  of which handoffs (joins, drains)", |r| {
            format!("{:.1}%", r.handoff_share_per_month * 100.0)
        }),
        ("utilisation spread at end", |r| {
            format!("{:.0}%", r.spread_end * 100.0)
        }),
        ("stored bytes per logical byte", |r| {
            format!("{:.2}", r.storage_overhead)
        }),
        ("wall time", |r| format!("{:.1} s", r.wall_secs)),
    ];
    for (name, f) in rows {
        let _ = write!(o, "  {name:<44}");
        for r in reports {
            let _ = write!(o, " {:>28}", f(r));
        }
        o.push('\n');
    }
    o
}
