//! Repair and replication: the queue, transfers, shards below target and
//! the coverage histogram of the last scan, churn and load imbalance.

use super::encode::{counter, gauge, gauges};
use super::Snapshot;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

/// The repair queue, transfers and coverage of the last scan.
pub(super) fn repair(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let b = Some(&Unit::Bytes);
    let secs = Some(&Unit::Seconds);
    gauge(
        e,
        "shardnet_repair_queue",
        "Transfers waiting in the repair queue.",
        None,
        s.repair_queue as f64,
    )?;
    gauge(
        e,
        "shardnet_repair_queue",
        "Bytes waiting in the repair queue.",
        b,
        s.repair_queue_bytes as f64,
    )?;
    gauge(
        e,
        "shardnet_repair_in_flight",
        "Transfers under way.",
        None,
        s.repair_in_flight as f64,
    )?;
    gauge(
        e,
        "shardnet_repair_eta",
        "Estimated time to drain the repair queue.",
        secs,
        s.repair_eta_secs,
    )?;
    gauge(
        e,
        "shardnet_repair_paused",
        "1 while repair and rebalancing are paused by the operator.",
        None,
        f64::from(u8::from(s.repair_paused)),
    )?;
    counter(
        e,
        "shardnet_transfers",
        "Repair and handoff transfers completed.",
        None,
        s.transfers_done,
    )?;
    counter(
        e,
        "shardnet_transfers_failed",
        "Repair and handoff transfers that failed.",
        None,
        s.transfers_failed,
    )?;
    counter(
        e,
        "shardnet_transferred",
        "Bytes moved by repair and handoff.",
        b,
        s.bytes_moved,
    )?;
    counter(
        e,
        "shardnet_redundant_removed",
        "Surplus copies quarantined by repair.",
        None,
        s.redundant_removed,
    )?;
    gauge(
        e,
        "shardnet_shards_below_target",
        "Shards with fewer proven copies than their leases want (last scan).",
        None,
        s.below_target as f64,
    )?;
    gauge(
        e,
        "shardnet_shards_blocked",
        "Shards that cannot reach their copies: too few eligible peers (last scan).",
        None,
        s.blocked as f64,
    )?;
    gauges(
        e,
        "shardnet_replication_coverage_shards",
        "Shards by proven copies, from the last repair scan (a histogram by copies).",
        None,
        s.coverage
            .iter()
            .map(|(c, n)| (vec![("copies", c.to_string())], *n as f64)),
    )?;
    let (sum, n) = s
        .coverage
        .iter()
        .fold((0u64, 0u64), |(sum, n), (c, k)| (sum + c * k, n + k));
    gauge(
        e,
        "shardnet_replication_coverage_ratio",
        "Mean proven copies per shard the last repair scan decided on (3: three copies each).",
        None,
        if n == 0 { 0.0 } else { sum as f64 / n as f64 },
    )?;
    gauge(
        e,
        "shardnet_replication_min_copies",
        "Fewest proven copies of any scanned shard (last scan).",
        None,
        s.coverage
            .iter()
            .find(|(_, n)| *n > 0)
            .map_or(0.0, |(c, _)| *c as f64),
    )?;
    gauge(
        e,
        "shardnet_churn_ratio",
        "Share of known peers not live.",
        None,
        s.churn,
    )?;
    gauge(
        e,
        "shardnet_load_imbalance_ratio",
        "(max - min) / mean of the peers' used/capacity.",
        None,
        s.load_imbalance,
    )?;
    Ok(())
}
