//! The report as a human table: what a person reads at the end of a run.

use super::{pct, size, span, Report};
use std::fmt::Write as _;

impl Report {
    /// The human table.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "scenario {:?} ({} mode, {} placement, {} policy, {} redundancy, seed {})",
            self.scenario, self.mode, self.placement, self.policy, self.redundancy, self.seed
        );
        let rows: Vec<(&str, String)> = vec![
            ("simulated time", span(self.simulated_secs)),
            ("wall time", format!("{:.1} s", self.wall_secs)),
            (
                "nodes start / end / peak",
                format!(
                    "{} / {} / {}",
                    self.nodes_start, self.nodes_end, self.nodes_peak
                ),
            ),
            (
                "joins / crashes / graceful",
                format!(
                    "{} / {} / {}",
                    self.joins, self.crashes, self.graceful_departures
                ),
            ),
            (
                "outages / zone outages / corruptions",
                format!(
                    "{} / {} / {}",
                    self.outages, self.zone_outages, self.corruptions
                ),
            ),
            ("logical data", size(self.logical_bytes)),
            (
                "stored at end (overhead)",
                format!(
                    "{} ({:.2}x)",
                    size(self.stored_bytes_end),
                    self.storage_overhead
                ),
            ),
            (
                "repair traffic (per month, of the data)",
                format!(
                    "{} ({:.0}%)",
                    size(self.repair_bytes),
                    self.repair_share_per_month * 100.0
                ),
            ),
            (
                "  of which handoffs (joins, drains)",
                format!(
                    "{} ({:.0}%)",
                    size(self.handoff_bytes),
                    self.handoff_share_per_month * 100.0
                ),
            ),
            (
                "repair traffic per node mean / max",
                format!(
                    "{} / {}",
                    size(self.repair_bytes_per_node_mean as u64),
                    size(self.repair_bytes_per_node_max)
                ),
            ),
            (
                "availability min / mean",
                format!(
                    "{} / {}",
                    pct(self.min_availability),
                    pct(self.mean_availability)
                ),
            ),
            (
                "restores ok / attempted",
                format!("{} / {}", self.restores_ok, self.restores_attempted),
            ),
            (
                "utilisation spread at end",
                format!("{:.0}%", self.spread_end * 100.0),
            ),
        ];
        // Live runs do not tell handoffs from repairs.
        let split = self.mode == "model";
        for (k, v) in rows {
            if !split && k.starts_with("  of which") {
                continue;
            }
            let _ = writeln!(o, "  {k:<38} {v}");
        }
        if self.liars > 0 {
            let _ = writeln!(
                o,
                "  {:<38} {} / {} (first copy to isolation: mean {:.1} h, max {:.1} h), {} failed audits",
                "liars isolated / lying",
                self.liars_isolated,
                self.liars,
                self.isolation_hours_mean,
                self.isolation_hours_max,
                self.audit_failures
            );
            let _ = writeln!(
                o,
                "  {:<38} {}",
                "shards placed on liars only", self.shards_placed_only_on_liars
            );
        }
        if self.trusted_floor_copies > 0 {
            let _ = writeln!(
                o,
                "  {:<38} {}",
                "extra copies on trusted nodes", self.trusted_floor_copies
            );
        }
        if self.audit_read_bytes > 0 {
            let _ = writeln!(
                o,
                "  {:<38} {} ({:.2}x the stored bytes per day)",
                "audit reads",
                size(self.audit_read_bytes),
                self.audit_read_bytes as f64
                    / self.stored_bytes_end.max(1) as f64
                    / (self.simulated_secs / 86_400.0).max(1e-9)
            );
        }
        if let Some(m) = &self.membership {
            let _ = writeln!(
                o,
                "  {:<38} {} per node (heartbeat {:.1} s, digest every {:.0} s, no refresh in the {:.0} s window, {} nodes)",
                "membership traffic, sent per second",
                size(m.bytes_per_node_sec as u64),
                m.heartbeat_secs,
                m.digest_secs,
                m.window_secs,
                m.nodes,
            );
            let refresh = shardnet_node::config::DEFAULT_MEMBERSHIP_REFRESH.as_secs_f64();
            let _ = writeln!(
                o,
                "  {:<38} at most {} per node at 10,000 nodes, {} at 100,000 (+ a refresh every {:.0} h at {} each)",
                "  projected",
                size(m.projected(10_000, refresh) as u64),
                size(m.projected(100_000, refresh) as u64),
                refresh / 3600.0,
                size(m.bytes_per_heartbeat_heard as u64)
            );
            let _ = writeln!(
                o,
                "  {:<38} {:.1} / {}",
                "connections per node mean / max", m.connections_mean, m.connections_max
            );
        }
        if let Some(m) = &self.membership_model {
            let _ = writeln!(
                o,
                "  {:<38} {:.2} changes, {:.1} checks per node per day",
                "membership changes", m.changes_per_node_day, m.checks_per_node_day
            );
            let _ = writeln!(
                o,
                "  {:<38} full view {}/s, changes only {}/s (probes {}, changes {}, checks {})",
                "membership traffic per node",
                size(m.full_view_bytes_per_node_sec as u64),
                size(m.dissemination.total() as u64),
                size(m.dissemination.probing as u64),
                size(m.dissemination.changes as u64),
                size(m.dissemination.checks as u64)
            );
        }
        if self.events > 0 {
            let _ = writeln!(
                o,
                "  {:<38} {} ({:.0} node-days/s)",
                "events processed", self.events, self.node_days_per_sec
            );
        }
        let _ = writeln!(
            o,
            "  {:<9} {:<12} {:>8} {:>10} {:>12} {:>13} {:>16}",
            "TIER",
            "REDUNDANCY",
            "BACKUPS",
            "SHARDS",
            "SHARDS LOST",
            "BACKUPS LOST",
            "SHARD-H < TARGET"
        );
        for t in &self.tiers {
            let _ = writeln!(
                o,
                "  {:<9} {:<12} {:>8} {:>10} {:>12} {:>13} {:>16.4}",
                t.tier,
                t.scheme,
                t.backups,
                t.shards,
                t.shards_lost,
                t.backups_lost,
                t.shard_hours_below_target
            );
        }
        o
    }
}
